-- Nexmark q3.
-- Local item suggestion: auctions in category 10 by sellers in OR, ID or CA.
-- Rewritten: person is declared a table (keyed by id) and joined by lookup, where
-- Flink runs a regular join. A table from a bounded input (a file, or the generator
-- with a count) is read completely first, so each auction meets its seller as Flink's
-- final result has it.
CREATE STREAM auction (id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
  reserve BIGINT, dateTime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
CREATE TABLE person (id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR,
  city VARCHAR, state VARCHAR, dateTime TIMESTAMP, extra VARCHAR, PRIMARY KEY (id))
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT P.name, P.city, P.state, A.id
FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
