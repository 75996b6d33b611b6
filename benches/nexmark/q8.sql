-- Nexmark q8.
-- Monitor new users: people who opened an auction in the 10 s window they joined in.
CREATE STREAM person (id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR,
  city VARCHAR, state VARCHAR, dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
CREATE STREAM auction (id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
  reserve BIGINT, dateTime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT P.id, P.name, P.starttime
FROM (
  SELECT P.id, P.name,
    TUMBLE_START(P.dateTime, INTERVAL '10' SECOND) AS starttime,
    TUMBLE_END(P.dateTime, INTERVAL '10' SECOND) AS endtime
  FROM person P
  GROUP BY P.id, P.name, TUMBLE(P.dateTime, INTERVAL '10' SECOND)
) P
JOIN (
  SELECT A.seller,
    TUMBLE_START(A.dateTime, INTERVAL '10' SECOND) AS starttime,
    TUMBLE_END(A.dateTime, INTERVAL '10' SECOND) AS endtime
  FROM auction A
  GROUP BY A.seller, TUMBLE(A.dateTime, INTERVAL '10' SECOND)
) A
ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime
