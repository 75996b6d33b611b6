-- Nexmark q9.
-- Winning bids: each auction's highest bid (the earliest of equal ones) within its life.
-- Rewritten: the join's 10 s bound as in q4, the join in a subquery of its own (corestream
-- ranks a subquery that only selects), A.* written out, and the result read at end of input (EMIT FINAL),
-- Flink's final result.
CREATE STREAM auction (id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
  reserve BIGINT, dateTime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra,
  auction, bidder, price, bid_dateTime, bid_extra
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY price DESC, bid_dateTime ASC) AS rownum
  FROM (
    SELECT A.id, A.itemName, A.description, A.initialBid, A.reserve, A.dateTime, A.expires,
      A.seller, A.category, A.extra, B.auction, B.bidder, B.price, B.dateTime AS bid_dateTime, B.extra AS bid_extra
    FROM auction A JOIN bid B ON A.id = B.auction
    WHERE B.dateTime BETWEEN A.dateTime AND A.expires
      AND B.dateTime <= A.dateTime + INTERVAL '10' SECOND
  ) AB
)
WHERE rownum <= 1
EMIT FINAL
