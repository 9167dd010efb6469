-- No search function: the statement reaches DuckDB exactly as typed (no rewrite).
-- statement:
SELECT count(*) AS n, min(doc_key) AS first FROM chunks
-- rewrite:
(none)
-- result:
n|first
6|bake-1
