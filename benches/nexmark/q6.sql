-- Nexmark q6.
-- Average selling price by seller: the average price of each seller's last 10 closed
-- auctions (the window is the current one and the 10 before it).
-- Rewritten: Flink's own text does not run in Flink (its OVER window cannot read the
-- retractions of the ranking); here the ranking reads q4's join with its 10 s bound, ranks
-- at end of input (EMIT FINAL, which a row window reads as "read the subquery's final
-- rows"), and the row window sorts the winning bids by dateTime (ties by the whole row),
-- so the result is a function of the events; the ranking and the row window each a
-- subquery of their own; AVG is cast to BIGINT as Flink's AVG of a BIGINT is one.
CREATE STREAM auction (id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
  reserve BIGINT, dateTime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT Q.seller,
  CAST(AVG(Q.price) OVER
    (PARTITION BY Q.seller ORDER BY Q.dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
  AS BIGINT) AS avg_price
FROM (
  SELECT id, seller, price, dateTime FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY id, seller ORDER BY price DESC, dateTime ASC) AS rownum
    FROM (
      SELECT A.id, A.seller, B.price, B.dateTime
      FROM auction A JOIN bid B ON A.id = B.auction
      WHERE B.dateTime BETWEEN A.dateTime AND A.expires
        AND B.dateTime <= A.dateTime + INTERVAL '10' SECOND
    ) AB
  ) R
  WHERE rownum <= 1
) Q
EMIT FINAL
