-- Two searches in one statement: chunks that both a keyword and a filtered dense search return.
-- statement:
SELECT c.doc_key
FROM keyword_search('firmware', k => 10) k
JOIN search('firmware problems', k := 10, where => 'doc_key = ''fw-e1234''') d USING (chunk_id)
JOIN chunks c USING (chunk_id)
-- rewrite:
SELECT c.doc_key FROM _search_0 AS k JOIN _search_1 AS d USING (chunk_id) JOIN chunks AS c USING (chunk_id)
-- result:
doc_key
fw-e1234
