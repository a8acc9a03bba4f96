-- Every channel into one loop (issue 22): hotline cases (8890 / 12345) and outbound webhooks.

-- A hotline case as the hotline sent it, once per case number. A case whose spoken address
-- could be placed became an incident at once; one that could not waits in the manual-location
-- queue (state 'unplaced', with the geocoder's best candidates) until a dispatcher places it.
-- The caller's phone is sealed like residents' (gis_core.platform.sealed_columns).
CREATE TABLE hotline_case (
    id                  bigserial PRIMARY KEY,
    case_number         text NOT NULL UNIQUE CHECK (length(case_number) BETWEEN 1 AND 64),
    line                text NOT NULL DEFAULT '8890',
    received_at         timestamptz NOT NULL,
    caller_phone_sealed bytea,
    caller_phone_digest bytea,
    address_text        text NOT NULL,
    category_code       text NOT NULL REFERENCES category,
    description         text NOT NULL DEFAULT '',
    hotline_due_at      timestamptz,
    request_hash        char(64) NOT NULL,
    state               text NOT NULL CHECK (state IN ('unplaced', 'placed')),
    candidates          jsonb NOT NULL DEFAULT '[]',
    address_code        text,   -- the standard address it was placed at, if placed by one
    incident_id         bigint UNIQUE REFERENCES incident ON DELETE SET NULL,
    placed_by           int REFERENCES app_user ON DELETE SET NULL,
    placed_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'placed') = (placed_at IS NOT NULL))
);
CREATE INDEX hotline_case_unplaced ON hotline_case (received_at) WHERE state = 'unplaced';

-- Who is told what: an external system's URL, the timeline actions it wants (empty: all) for
-- incidents from the sources it wants (empty: all), and the secret its deliveries are signed with.
CREATE TABLE webhook_subscription (
    id            serial PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    url           text NOT NULL CHECK (url ~ '^https?://'),
    events        text[] NOT NULL DEFAULT '{}',
    sources       text[] NOT NULL DEFAULT '{}',
    secret_sealed bytea NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The transactional outbox: a delivery is written in the same transaction as the timeline row
-- it tells of (a trigger), so a committed state change is never untold and a rolled-back one
-- never told. Deliveries go out in id order per (subscription, incident); failures are retried
-- with backoff until `dead_at` (the dead-letter list), from which `onegrid webhooks replay` requeues.
CREATE TABLE webhook_delivery (
    id              bigserial PRIMARY KEY,
    subscription_id int NOT NULL REFERENCES webhook_subscription ON DELETE CASCADE,
    incident_id     bigint NOT NULL REFERENCES incident ON DELETE CASCADE,
    event_id        bigint NOT NULL,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    dead_at         timestamptz,
    last_status     int,
    last_error      text
);
CREATE INDEX webhook_delivery_pending ON webhook_delivery (next_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX webhook_delivery_order ON webhook_delivery (subscription_id, incident_id, id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX webhook_delivery_dead ON webhook_delivery (dead_at) WHERE dead_at IS NOT NULL;

-- One statement's timeline rows queue their deliveries in one insert (a COPY of a year's
-- timeline costs one empty join, not one per row). Security definer: the request's role
-- writes timeline rows but may not read subscriptions.
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO webhook_delivery (subscription_id, incident_id, event_id, event, payload)
    SELECT s.id, i.id, e.id, e.action, jsonb_build_object(
               'event_id', e.id, 'event', e.action, 'at', e.at, 'from_state', e.from_state,
               'to_state', e.to_state, 'note', e.note, 'data', e.data,
               'incident', jsonb_build_object('code', i.code, 'source', i.source, 'category', i.category_code,
                                              'level', e.level, 'department', e.department_code,
                                              'due_at', i.due_at, 'rating', i.rating),
               'case_number', CASE WHEN i.idempotency_key LIKE 'hotline:%' THEN substr(i.idempotency_key, 9) END)
    FROM new_events e
    JOIN incident i ON i.id = e.incident_id
    JOIN webhook_subscription s ON s.active
         AND (cardinality(s.events) = 0 OR e.action = ANY (s.events))
         AND (cardinality(s.sources) = 0 OR i.source = ANY (s.sources))
    ORDER BY e.id, s.id;
    IF FOUND THEN
        PERFORM pg_notify('onegrid_webhooks', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER queue_webhooks AFTER INSERT ON incident_event REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION queue_webhook_deliveries();

REVOKE ALL ON hotline_case, webhook_subscription, webhook_delivery FROM onegrid_app;
GRANT SELECT, INSERT, UPDATE ON hotline_case TO onegrid_app;
GRANT USAGE ON SEQUENCE hotline_case_id_seq TO onegrid_app;
