-- One row per marketplace order seen (the inbox is the marketplace side), with its shop order if
-- any and the facts reconciliation checks. Portable SQL (SQLite, PostgreSQL, MariaDB).
-- Parameters: the entry's marketplace and country.
SELECT
    i.marketplace,
    i.country,
    i.marketplace_order_id,
    i.marketplace_status,
    i.fulfillment,
    i.state AS sync_state,
    COALESCE(i.purchase_date, i.first_seen_at) AS purchase_date,
    i.total AS marketplace_total,
    o.id AS shop_order_id,
    o.status AS shop_status,
    o.total AS shop_total,
    o.cancelled_at,
    n.reason AS not_imported_reason,
    (SELECT COUNT(*) FROM orders d
      WHERE d.marketplace = i.marketplace AND d.country = i.country
        AND d.marketplace_order_id = i.marketplace_order_id) AS shop_copies,
    (SELECT COUNT(*) FROM stock_moves m JOIN order_lines l ON l.id = m.order_line_id
      WHERE l.order_id = o.id AND m.reason = 'sale') AS sale_moves,
    (SELECT COUNT(DISTINCT l.id) FROM stock_moves m JOIN order_lines l ON l.id = m.order_line_id
      WHERE l.order_id = o.id AND m.reason = 'sale') AS lines_sold,
    (SELECT COUNT(*) FROM shipment_confirmations c
      WHERE c.order_id = o.id AND c.state = 'confirmed') AS packages_confirmed,
    (SELECT COUNT(*) FROM shipment_confirmations c
      WHERE c.order_id = o.id AND c.state = 'confirmed') - (SELECT COUNT(DISTINCT c.package_ref) FROM shipment_confirmations c
      WHERE c.order_id = o.id AND c.state = 'confirmed') AS packages_confirmed_twice
FROM inbox i
LEFT JOIN orders o
    ON o.marketplace = i.marketplace AND o.country = i.country
   AND o.marketplace_order_id = i.marketplace_order_id
LEFT JOIN not_imported n
    ON n.marketplace = i.marketplace AND n.country = i.country
   AND n.marketplace_order_id = i.marketplace_order_id AND n.resolved_at IS NULL
WHERE i.marketplace = :marketplace AND i.country = :country
