-- Reconciliation of one entry over a window of purchase days: one row per purchase day and
-- not-imported reason with the day's counts (columns of the reconciliation table).
-- Set-based: each table is read once, restricted to the window's orders through its index, grouped
-- by order, then joined; the cost follows the orders in the window, not the history.
-- Portable SQL (SQLite, PostgreSQL, MariaDB). Parameters: marketplace, country, since (first
-- purchase time of the window), importable / shipped / cancelled (the channel status words that
-- mean UNSHIPPED-or-SHIPPED / SHIPPED / CANCELLED), import_fba, create_orders (0/1),
-- shipped_status (the entry's shop status of shipped orders).
-- The window is two ranges of ix_inbox_purchase (an OR of both would read the entry's history).
WITH seen AS (
    SELECT i.marketplace_order_id, i.marketplace_status, i.fulfillment, i.total, DATE(i.purchase_date) AS day
    FROM inbox i
    WHERE i.marketplace = :marketplace AND i.country = :country AND i.purchase_date >= :since
    UNION ALL
    SELECT i.marketplace_order_id, i.marketplace_status, i.fulfillment, i.total, DATE(i.first_seen_at) AS day
    FROM inbox i
    WHERE i.marketplace = :marketplace AND i.country = :country AND i.purchase_date IS NULL
      AND i.first_seen_at >= :since
),
shop AS (
    SELECT o.id, o.marketplace_order_id, o.status, o.total, o.cancelled_at
    FROM orders o
    WHERE o.marketplace = :marketplace AND o.country = :country
      AND o.marketplace_order_id IN (SELECT marketplace_order_id FROM seen)
),
copies AS (
    SELECT marketplace_order_id, COUNT(*) AS n FROM shop GROUP BY marketplace_order_id
),
sold AS (
    SELECT l.order_id, COUNT(*) AS sale_moves, COUNT(DISTINCT l.id) AS sold_lines
    FROM stock_moves m JOIN order_lines l ON l.id = m.order_line_id
    WHERE m.reason = 'sale' AND l.order_id IN (SELECT id FROM shop)
    GROUP BY l.order_id
),
confirmed AS (
    SELECT c.order_id, COUNT(*) AS n, COUNT(DISTINCT c.package_ref) AS packages
    FROM shipment_confirmations c
    WHERE c.state = 'confirmed' AND c.order_id IN (SELECT id FROM shop)
    GROUP BY c.order_id
),
reasons AS (
    SELECT n.marketplace_order_id, n.reason
    FROM not_imported n
    WHERE n.marketplace = :marketplace AND n.country = :country AND n.resolved_at IS NULL
      AND n.marketplace_order_id IN (SELECT marketplace_order_id FROM seen)
),
facts AS (
    SELECT
        s.day,
        CASE WHEN s.fulfillment = 'MERCHANT' THEN 1 ELSE 0 END AS merchant,
        CASE WHEN o.id IS NULL THEN 0 ELSE 1 END AS in_shop,
        CASE WHEN o.id IS NOT NULL
               OR (:create_orders = 1
                   AND ((s.fulfillment = 'MERCHANT' AND s.marketplace_status IN :importable)
                        OR (s.fulfillment <> 'MERCHANT' AND s.marketplace_status IN :shipped AND :import_fba = 1)))
             THEN 1 ELSE 0 END AS expected,
        CASE WHEN s.marketplace_status IN :shipped THEN 1 ELSE 0 END AS mp_shipped,
        CASE WHEN s.marketplace_status IN :cancelled THEN 1 ELSE 0 END AS mp_cancelled,
        CASE WHEN o.id IS NOT NULL AND o.cancelled_at IS NULL THEN 1 ELSE 0 END AS open_in_shop,
        CASE WHEN o.status = :shipped_status THEN 1 ELSE 0 END AS shop_shipped,
        CASE WHEN o.id IS NOT NULL AND s.total IS NOT NULL AND ABS(s.total - o.total) > 0.005
             THEN 1 ELSE 0 END AS drift,
        r.reason,
        COALESCE(k.n, 0) AS copies,
        COALESCE(m.sale_moves, 0) - COALESCE(m.sold_lines, 0) AS extra_moves,
        COALESCE(c.n, 0) AS confirmations,
        COALESCE(c.n, 0) - COALESCE(c.packages, 0) AS extra_confirmations
    FROM seen s
    LEFT JOIN shop o ON o.marketplace_order_id = s.marketplace_order_id
    LEFT JOIN copies k ON k.marketplace_order_id = s.marketplace_order_id
    LEFT JOIN sold m ON m.order_id = o.id
    LEFT JOIN confirmed c ON c.order_id = o.id
    LEFT JOIN reasons r ON r.marketplace_order_id = s.marketplace_order_id
)
SELECT
    day,
    CASE WHEN expected = 1 AND in_shop = 0 THEN reason END AS reason,
    COUNT(*) AS on_marketplace,
    SUM(expected) AS expected,
    SUM(in_shop) AS imported,
    SUM(CASE WHEN expected = 1 AND in_shop = 0 THEN 1 ELSE 0 END) AS missing,
    SUM(CASE WHEN expected = 1 AND in_shop = 0 AND reason IS NOT NULL THEN 1 ELSE 0 END) AS not_imported,
    SUM(CASE WHEN expected = 1 AND in_shop = 0 AND reason IS NULL THEN 1 ELSE 0 END) AS unexplained,
    SUM(CASE WHEN copies > 1 THEN copies - 1 ELSE 0 END) AS duplicated_orders,
    SUM(CASE WHEN extra_moves > 0 THEN extra_moves ELSE 0 END) AS duplicated_moves,
    SUM(CASE WHEN extra_confirmations > 0 THEN extra_confirmations ELSE 0 END) AS confirmed_twice,
    SUM(CASE WHEN merchant = 1 AND in_shop = 1 AND shop_shipped = 1 AND confirmations = 0 THEN 1 ELSE 0 END)
        AS shipped_not_confirmed,
    SUM(CASE WHEN in_shop = 1 AND mp_cancelled = 1 AND open_in_shop = 1 THEN 1 ELSE 0 END) AS cancel_not_applied,
    SUM(CASE WHEN merchant = 1 AND open_in_shop = 1 AND mp_shipped = 1 AND shop_shipped = 0 THEN 1 ELSE 0 END)
        AS shipped_elsewhere,
    SUM(drift) AS amount_drift
FROM facts
GROUP BY day, CASE WHEN expected = 1 AND in_shop = 0 THEN reason END
