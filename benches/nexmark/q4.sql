-- Nexmark q4.
-- Average price for a category: the average closing price per category.
-- Rewritten: the join carries an upper bound of 10 s on a bid's distance from its
-- auction's start (auctions last at most 2 x 1666 events of event time: 333 ms at the
-- default event rate, 10 s down to 334 events/s), so its state is freed; the
-- per-auction maximum changes until the input ends, so the result is read at end of
-- input (EMIT FINAL), which is Flink's final result; AVG is cast to BIGINT as
-- Flink's AVG of a BIGINT is one; the columns are named as Flink's sink names them (id, final).
CREATE STREAM auction (id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
  reserve BIGINT, dateTime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT Q.category AS id, CAST(AVG(Q.final) AS BIGINT) AS final
FROM (
  SELECT MAX(B.price) AS final, A.category
  FROM auction A JOIN bid B ON A.id = B.auction
  WHERE B.dateTime BETWEEN A.dateTime AND A.expires
    AND B.dateTime <= A.dateTime + INTERVAL '10' SECOND
  GROUP BY A.id, A.category
) Q
GROUP BY Q.category
EMIT FINAL
