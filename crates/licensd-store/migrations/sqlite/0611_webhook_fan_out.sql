-- Fan-out of events to webhook endpoints: every row inserted into `events`, whichever code path
-- inserts it, queues one outbox delivery per enabled endpoint subscribed to its type, inside the
-- same transaction (a trigger), so a committed event is never without its deliveries and a
-- rolled-back one never sends. Body: {"type", "timestamp" (RFC 3339, UTC), "data": the event}.
-- Keep in step with migrations/postgres/0611_webhook_fan_out.sql.
ALTER TABLE outbox_deliveries ADD COLUMN webhook_id BIGINT;
CREATE INDEX outbox_deliveries_webhook ON outbox_deliveries (webhook_id, id) WHERE webhook_id IS NOT NULL;

CREATE TRIGGER events_webhook_fan_out AFTER INSERT ON events
BEGIN
    INSERT INTO outbox_deliveries (kind, target_url, body, headers, status, attempts, next_attempt_at,
                                   created_at, webhook_id)
    SELECT 'webhook', w.url,
           json_object(
               'type', NEW.action,
               'timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', NEW.at / 1000.0, 'unixepoch'),
               'data', json_object(
                   'id', NEW.id, 'at', NEW.at, 'actor', NEW.actor, 'source_ip', NEW.source_ip,
                   'action', NEW.action, 'subject_type', NEW.subject_type, 'subject_id', NEW.subject_id,
                   'data', json(NEW.data))),
           '[["content-type","application/json"]]', 'pending', 0, NEW.at, NEW.at, w.id
    FROM webhook_endpoints w
    WHERE w.enabled <> 0
      AND EXISTS (SELECT 1 FROM json_each(w.event_types) WHERE value = NEW.action OR value = '*');
END;
