-- Nexmark q11.
-- User sessions: bids per bidder per session of activity (10 s gap).
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT B.bidder, COUNT(*) AS bid_count,
  SESSION_START(B.dateTime, INTERVAL '10' SECOND) AS starttime,
  SESSION_END(B.dateTime, INTERVAL '10' SECOND) AS endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND)
