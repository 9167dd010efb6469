-- A keyword search joined to chunks and documents: only the document with the code matches.
-- statement:
SELECT d.doc_key, d.title, s.rank
FROM keyword_search('E5678') s
JOIN chunks c USING (chunk_id)
JOIN documents d USING (doc_id)
ORDER BY s.rank
-- rewrite:
SELECT d.doc_key, d.title, s.rank FROM _search_0 AS s JOIN chunks AS c USING (chunk_id) JOIN documents AS d USING (doc_id) ORDER BY s.rank
-- result:
doc_key|title|rank
fw-e5678|Firmware rollback|1
