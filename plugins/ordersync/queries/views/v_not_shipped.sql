-- Shipments the marketplace refused ("not shipped"), with its message: fix, then resend.
SELECT
    o.marketplace,
    o.country,
    o.marketplace_order_id,
    o.id AS shop_order_id,
    c.package_ref,
    c.carrier_code,
    c.tracking_number,
    c.message,
    c.attempts,
    c.claimed_at AS last_attempt_at
FROM shipment_confirmations c
JOIN orders o ON o.id = c.order_id
WHERE c.state = 'rejected'
