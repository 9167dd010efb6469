-- Hybrid search over everything, then a GROUP BY on the documents' topic prefix.
-- statement:
SELECT split_part(c.doc_key, '-', 1) AS topic, count(*) AS hits
FROM hybrid_search('warm water', k => 6) h
JOIN chunks c USING (chunk_id)
GROUP BY topic ORDER BY topic
-- rewrite:
SELECT SPLIT_PART(c.doc_key, '-', 1) AS topic, COUNT(*) AS hits FROM _search_0 AS h JOIN chunks AS c USING (chunk_id) GROUP BY topic ORDER BY topic
-- result:
topic|hits
bake|2
fw|2
sea|2
