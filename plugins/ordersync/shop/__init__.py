"""The shop database: tables, engine and the store that writes imports set-based."""
