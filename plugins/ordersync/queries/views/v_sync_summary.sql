-- Per entry (marketplace x country): the figures a shop plugin's summary shows. Last import /
-- last fulfillment come from sync_state; the counts are live from the shop tables.
SELECT
    s.entry,
    s.marketplace,
    s.country,
    s.last_lookup_at,
    s.last_import_at,
    (SELECT COUNT(*) FROM orders o
      WHERE o.marketplace = s.marketplace AND o.country = s.country) AS orders_imported,
    (SELECT COUNT(*) FROM not_imported n
      WHERE n.marketplace = s.marketplace AND n.country = s.country AND n.resolved_at IS NULL) AS orders_not_imported,
    (SELECT COUNT(*) FROM inbox i
      WHERE i.marketplace = s.marketplace AND i.country = s.country AND i.state = 'waiting') AS orders_waiting,
    s.last_fulfillment_at,
    (SELECT COUNT(*) FROM shipment_confirmations c JOIN orders o ON o.id = c.order_id
      WHERE o.marketplace = s.marketplace AND o.country = s.country AND c.state = 'confirmed') AS packages_shipped,
    (SELECT COUNT(*) FROM orders o
      WHERE o.marketplace = s.marketplace AND o.country = s.country AND o.fulfillment = 'MERCHANT'
        AND o.cancelled_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM shipment_confirmations c
                         WHERE c.order_id = o.id AND c.state = 'confirmed')) AS orders_not_yet_shipped,
    (SELECT COUNT(*) FROM shipment_confirmations c JOIN orders o ON o.id = c.order_id
      WHERE o.marketplace = s.marketplace AND o.country = s.country AND c.state = 'rejected') AS packages_not_shipped
FROM sync_state s
