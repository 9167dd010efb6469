-- A search in a subquery of WHERE: the documents whose chunks mention "tides".
-- statement:
SELECT doc_key FROM documents
WHERE doc_id IN (SELECT c.doc_id FROM keyword_search('tides') k JOIN chunks c USING (chunk_id))
-- rewrite:
SELECT doc_key FROM documents WHERE doc_id IN (SELECT c.doc_id FROM _search_0 AS k JOIN chunks AS c USING (chunk_id))
-- result:
doc_key
sea-1
