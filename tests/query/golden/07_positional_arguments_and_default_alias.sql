-- Arguments by position (question, k, where), and the function name as the default alias.
-- statement:
SELECT search.rank, c.doc_key FROM search('coral reefs', 1, 'doc_key LIKE ''sea-%''') JOIN chunks c USING (chunk_id)
-- rewrite:
SELECT search.rank, c.doc_key FROM _search_0 AS search JOIN chunks AS c USING (chunk_id)
-- result:
rank|doc_key
1|sea-2
