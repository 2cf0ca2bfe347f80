-- Fan-out of events to webhook endpoints: every row inserted into `events`, whichever code path
-- inserts it, queues one outbox delivery per enabled endpoint subscribed to its type, inside the
-- same transaction (a trigger), so a committed event is never without its deliveries and a
-- rolled-back one never sends. Body: {"type", "timestamp" (RFC 3339, UTC), "data": the event}.
-- Keep in step with migrations/sqlite/0611_webhook_fan_out.sql.
ALTER TABLE outbox_deliveries ADD COLUMN webhook_id BIGINT;
CREATE INDEX outbox_deliveries_webhook ON outbox_deliveries (webhook_id, id) WHERE webhook_id IS NOT NULL;

CREATE FUNCTION events_webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $fan_out$
BEGIN
    INSERT INTO outbox_deliveries (kind, target_url, body, headers, status, attempts, next_attempt_at,
                                   created_at, webhook_id)
    SELECT 'webhook', w.url,
           json_build_object(
               'type', NEW.action,
               'timestamp', to_char(to_timestamp(NEW.at / 1000.0) AT TIME ZONE 'UTC',
                                    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'data', json_build_object(
                   'id', NEW.id, 'at', NEW.at, 'actor', NEW.actor, 'source_ip', NEW.source_ip,
                   'action', NEW.action, 'subject_type', NEW.subject_type, 'subject_id', NEW.subject_id,
                   'data', NEW.data::json))::text,
           '[["content-type","application/json"]]', 'pending', 0, NEW.at, NEW.at, w.id
    FROM webhook_endpoints w
    WHERE w.enabled AND (w.event_types::jsonb ? NEW.action OR w.event_types::jsonb ? '*');
    RETURN NULL;
END
$fan_out$;

CREATE TRIGGER events_webhook_fan_out AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_webhook_fan_out();
