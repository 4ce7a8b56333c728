-- The candidates list pages by seq within a service (WHERE service_id = ? AND seq > cursor ORDER BY seq):
-- without this index each page read every row of the service through records_updated and sorted them,
-- so walking all pages grew quadratically with the service's records (found by make bench's (k)).
CREATE INDEX records_service_seq ON records(service_id, seq);
