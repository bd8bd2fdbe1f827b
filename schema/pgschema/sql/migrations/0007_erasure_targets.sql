-- Erasure reaches every row that names the user: as the actor, and as the
-- target of an event (resource 'user' with the user's id, an
-- administrator's action on the account), and the personal values inside
-- details, previous_value and new_value. The seal's encoding version 2
-- (schema/seal) puts resource_id and the three JSON values behind the
-- per-row commitment, next to the personal fields, so sealed rows still
-- verify once their salts are dropped.
--
-- <table>_erase_user(subject, pseudonym, also, keys, keep) replaces the
-- two-argument function of 0006 (called with two arguments, it does what
-- the rule below says with the default keys). In every row whose user_id
-- is subject (the actor's rows) or whose resource is ('user', subject)
-- (the target's rows):
--
--   - an actor's row: user_id becomes the pseudonym; user_name,
--     ip_address, user_agent and session_id become NULL;
--   - a target's row: resource_id becomes the pseudonym;
--   - in details, previous_value and new_value, at any depth: a string
--     equal to subject becomes the pseudonym; a string equal to one of the
--     user's other identifiers (every user_name of the actor's rows, and
--     the values given in also, such as an e-mail address) becomes
--     "[erased]"; in a target's row, whose values describe the user, the
--     value of every member whose key is one of keys becomes "[erased]".
--     Object keys are kept.
--
-- Rows whose event id is in keep change only in the actor's personal
-- fields: the erase command passes the rows sealed under the seal's
-- version 1, which covers resource_id and the JSON values directly. A
-- target's row in keep is not changed at all, and not returned.
--
-- The function returns the (created_at, event_id) of every row it
-- changed. The trigger function lets through, for the owner inside this
-- function only, changes to the personal fields, resource_id and the three
-- JSON values; every other column must stay as it was.

CREATE OR REPLACE FUNCTION {{qname "_refuse_change"}}() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF pg_catalog.current_setting('otelaudit.erasure', true) = 'on'
           AND (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = TG_RELID)
               = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
           AND (NEW.created_at, NEW.event_id, NEW.action, NEW.outcome, NEW.error_type, NEW.workspace_id,
                NEW.resource, NEW.attributes,
                NEW.trace_id, NEW.span_id, NEW.service_name, NEW.sanitized, NEW.observed_at, NEW.ingested_at,
                NEW.arrival)
               IS NOT DISTINCT FROM
               (OLD.created_at, OLD.event_id, OLD.action, OLD.outcome, OLD.error_type, OLD.workspace_id,
                OLD.resource, OLD.attributes,
                OLD.trace_id, OLD.span_id, OLD.service_name, OLD.sanitized, OLD.observed_at, OLD.ingested_at,
                OLD.arrival)
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'otelaudit: % on %.% refused: audit rows are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Retention drops whole partitions: SELECT * FROM {{qname "_drop_partitions_before"}}(cutoff). Erasure: {{qname "_erase_user"}}(subject, pseudonym).';
END
$fn$;

-- <table>_erase_json(j, subject, pseudonym, others, keys): the JSON part
-- of the rule above, applied to one value.
CREATE FUNCTION {{qname "_erase_json"}}(j jsonb, subject text, pseudonym text, others text[], keys text[])
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    out jsonb;
BEGIN
    CASE pg_catalog.jsonb_typeof(j)
    WHEN 'string' THEN
        IF j #>> '{}' = subject THEN
            RETURN pg_catalog.to_jsonb(pseudonym);
        ELSIF j #>> '{}' = ANY (others) THEN
            RETURN '"[erased]"'::jsonb;
        END IF;
        RETURN j;
    WHEN 'array' THEN
        SELECT pg_catalog.jsonb_agg({{qname "_erase_json"}}(e.v, subject, pseudonym, others, keys) ORDER BY e.n)
            INTO out FROM pg_catalog.jsonb_array_elements(j) WITH ORDINALITY AS e(v, n);
        RETURN coalesce(out, '[]'::jsonb);
    WHEN 'object' THEN
        SELECT pg_catalog.jsonb_object_agg(e.k,
                   CASE WHEN e.k = ANY (keys) AND e.v <> 'null'::jsonb THEN '"[erased]"'::jsonb
                        ELSE {{qname "_erase_json"}}(e.v, subject, pseudonym, others, keys) END)
            INTO out FROM pg_catalog.jsonb_each(j) AS e(k, v);
        RETURN coalesce(out, '{}'::jsonb);
    ELSE
        RETURN j;
    END CASE;
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_erase_json"}}(jsonb, text, text, text[], text[]) FROM PUBLIC;

DROP FUNCTION {{qname "_erase_user"}}(text, text);

CREATE FUNCTION {{qname "_erase_user"}}(subject text, pseudonym text,
    also text[] DEFAULT '{}',
    keys text[] DEFAULT '{email,name,user_name,full_name,display_name,first_name,last_name,phone,ip,ip_address,client_ip,user_agent,session_id,address}',
    keep uuid[] DEFAULT '{}')
RETURNS TABLE (created_at timestamptz, event_id uuid)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    others text[];
BEGIN
    IF subject IS NULL OR subject = '' OR pseudonym IS NULL OR pseudonym = '' OR subject = pseudonym THEN
        RAISE EXCEPTION 'otelaudit: erase: subject and pseudonym must be given and differ'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(pg_catalog.array_agg(DISTINCT x.v), '{}') INTO others
    FROM (SELECT a.user_name AS v FROM {{.Table}} AS a WHERE a.user_id = subject
          UNION SELECT u FROM pg_catalog.unnest(coalesce(also, '{}')) AS u) AS x
    WHERE x.v IS NOT NULL AND x.v <> '' AND x.v <> subject;
    PERFORM pg_catalog.set_config('otelaudit.erasure', 'on', true);
    keep := coalesce(keep, '{}');
    RETURN QUERY
        UPDATE {{.Table}} AS a
        SET user_id    = CASE WHEN a.user_id = subject THEN pseudonym ELSE a.user_id END,
            user_name  = CASE WHEN a.user_id = subject THEN NULL ELSE a.user_name END,
            ip_address = CASE WHEN a.user_id = subject THEN NULL ELSE a.ip_address END,
            user_agent = CASE WHEN a.user_id = subject THEN NULL ELSE a.user_agent END,
            session_id = CASE WHEN a.user_id = subject THEN NULL ELSE a.session_id END,
            resource_id = CASE WHEN a.event_id <> ALL (keep) AND a.resource = 'user' AND a.resource_id = subject
                               THEN pseudonym ELSE a.resource_id END,
            details = CASE WHEN a.event_id <> ALL (keep)
                           THEN {{qname "_erase_json"}}(a.details, subject, pseudonym, others,
                                CASE WHEN a.resource = 'user' AND a.resource_id = subject THEN keys ELSE '{}' END)
                           ELSE a.details END,
            previous_value = CASE WHEN a.event_id <> ALL (keep)
                           THEN {{qname "_erase_json"}}(a.previous_value, subject, pseudonym, others,
                                CASE WHEN a.resource = 'user' AND a.resource_id = subject THEN keys ELSE '{}' END)
                           ELSE a.previous_value END,
            new_value = CASE WHEN a.event_id <> ALL (keep)
                           THEN {{qname "_erase_json"}}(a.new_value, subject, pseudonym, others,
                                CASE WHEN a.resource = 'user' AND a.resource_id = subject THEN keys ELSE '{}' END)
                           ELSE a.new_value END
        WHERE a.user_id = subject
           OR (a.resource = 'user' AND a.resource_id = subject AND a.event_id <> ALL (keep))
        RETURNING a.created_at, a.event_id;
    PERFORM pg_catalog.set_config('otelaudit.erasure', 'off', true);
END
$fn$;

REVOKE ALL ON FUNCTION {{qname "_erase_user"}}(text, text, text[], text[], uuid[]) FROM PUBLIC;
