-- Every marketplace order seen, imported or not, with the columns of a marketplace order grid
-- (Magento's Amazon order grid): one row per marketplace order.
SELECT
    i.marketplace,
    i.country,
    i.marketplace_order_id AS marketplace_order_number,
    i.store_name,
    o.id AS shop_order_id,
    o.shop_order_number,
    i.buyer_name,
    i.marketplace_status AS status,
    i.total,
    i.currency,
    CASE WHEN i.fulfillment = 'MARKETPLACE' THEN 'Marketplace' ELSE 'Merchant' END AS fulfillment_channel,
    i.items_shipped,
    i.items_unshipped,
    CASE WHEN EXISTS (SELECT 1 FROM reservations r
                       WHERE r.marketplace = i.marketplace AND r.country = i.country
                         AND r.marketplace_order_id = i.marketplace_order_id AND r.state = 'reserved')
         THEN 'Yes' ELSE 'No' END AS reserved,
    i.purchase_date,
    i.latest_ship_date,
    i.last_action,
    CASE WHEN i.is_prime THEN 'Yes' ELSE 'No' END AS is_prime,
    i.state AS sync_state,
    i.marketplace_updated_at
FROM inbox i
LEFT JOIN orders o
    ON o.marketplace = i.marketplace AND o.country = i.country
   AND o.marketplace_order_id = i.marketplace_order_id
