-- Nexmark q13.
-- Bounded side input join: each bid enriched with the side input's row of its auction
-- id modulo 10000.
-- Rewritten: the side input is a table (`side_input`, 10,000 rows of key and value, `v` and the key, from
-- gen:nexmark or the side_input.csv file `corestream gen nexmark` writes) joined by
-- lookup, read completely before any bid is joined, rather than a file looked up at
-- processing time (PROCTIME()); the file never changes, so the rows are Flink's; `key` and
-- `value` are quoted, as they are SQL keywords.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
CREATE TABLE side_input ("key" BIGINT, "value" VARCHAR, PRIMARY KEY ("key"));
SELECT B.auction, B.bidder, B.price, B.dateTime, S."value"
FROM bid B JOIN side_input S ON B.auction % 10000 = S."key"
