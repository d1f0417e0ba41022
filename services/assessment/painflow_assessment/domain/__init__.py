"""The assessment's pure clinical domain: questionnaires, scores, opioid load, candidacy and the
procedure pathway. No I/O, no FastAPI, SQL, Kafka or HTTP: policies arrive as frozen data."""
