-- Dense search with a filter pushed into the index, inside a CTE: k rows come back
-- because two chunks match the predicate.
-- statement:
WITH hits AS (SELECT * FROM search('baking bread', k => 2, where => 'doc_key LIKE ''bake-%''') )
SELECT c.doc_key FROM hits JOIN chunks c USING (chunk_id) ORDER BY c.doc_key
-- rewrite:
WITH hits AS (SELECT * FROM _search_0 AS search) SELECT c.doc_key FROM hits JOIN chunks AS c USING (chunk_id) ORDER BY c.doc_key
-- result:
doc_key
bake-1
bake-2
