-- Per marketplace x country: orders seen on the marketplace, what became of them, and the
-- shipments confirmed back. Portable SQL (SQLite, PostgreSQL, MariaDB).
SELECT
    i.marketplace,
    i.country,
    COUNT(*) AS found,
    SUM(CASE WHEN i.state = 'imported' THEN 1 ELSE 0 END) AS imported,
    SUM(CASE WHEN i.state = 'not_imported' THEN 1 ELSE 0 END) AS not_imported,
    SUM(CASE WHEN i.state = 'waiting' THEN 1 ELSE 0 END) AS waiting,
    SUM(CASE WHEN i.state = 'skipped' THEN 1 ELSE 0 END) AS skipped,
    (
        SELECT COUNT(*)
        FROM shipment_confirmations c
        JOIN orders o ON o.id = c.order_id
        WHERE o.marketplace = i.marketplace AND o.country = i.country AND c.state = 'confirmed'
    ) AS confirmed
FROM inbox i
GROUP BY i.marketplace, i.country
ORDER BY i.marketplace, i.country
