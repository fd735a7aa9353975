import GRDB

/// The schema, one registered migration per version. A migration is never edited once released:
/// later capabilities append new ones.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-qb-configs") { db in
            // One row per organisation. Tokens are sealed (AES-256-GCM: key id, nonce, ciphertext, tag;
            // associated data org|realm|column): never plain text in this file.
            try db.execute(
                sql: """
                    CREATE TABLE qb_configs (
                        org TEXT PRIMARY KEY NOT NULL,
                        realm_id TEXT UNIQUE,
                        company_name TEXT,
                        environment TEXT,
                        status TEXT NOT NULL DEFAULT 'disconnected'
                            CHECK (status IN ('connected', 'disconnected', 'needs_reauthorization')),
                        access_token BLOB,
                        refresh_token BLOB,
                        access_token_expires_at INTEGER,
                        refresh_token_expires_at INTEGER,
                        connected_at INTEGER,
                        last_refresh_at INTEGER,
                        last_error TEXT,
                        token_generation INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    ) STRICT
                    """
            )
            try db.execute(sql: "CREATE INDEX qb_configs_status ON qb_configs(status)")
            try db.execute(sql: "CREATE TABLE store_health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT) STRICT")
            try db.execute(sql: "INSERT INTO store_health (id, checked_at) VALUES (1, CURRENT_TIMESTAMP)")
        }
        migrator.registerMigration("v2-connections") { db in
            // OAuth states are kept as SHA-256 hashes only; a state is single use and expires.
            try db.execute(
                sql: """
                    CREATE TABLE oauth_states (
                        state_hash BLOB PRIMARY KEY NOT NULL,
                        org TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        used_at INTEGER,
                        code_hash BLOB
                    ) STRICT
                    """
            )
            try db.execute(sql: "ALTER TABLE qb_configs ADD COLUMN refresh_token_hard_expires_at INTEGER")
            try db.execute(sql: "ALTER TABLE qb_configs ADD COLUMN grant_started_at INTEGER")
            try db.execute(sql: "ALTER TABLE qb_configs ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0")
            try db.execute(sql: "ALTER TABLE qb_configs ADD COLUMN next_retry_at INTEGER")
            try db.execute(sql: "ALTER TABLE qb_configs ADD COLUMN reconnect_warned_at INTEGER")
        }
        migrator.registerMigration("v3-entity-mappings") { db in
            // One row per local entity, so no local entity can have two QBO records. The intent of a
            // create (its requestid) is stored before the call and reused on every retry.
            try db.execute(
                sql: """
                    CREATE TABLE qb_entity_mappings (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        org TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('development', 'demand')),
                        local_id TEXT NOT NULL,
                        qbo_type TEXT NOT NULL,
                        qbo_id TEXT,
                        sync_token TEXT,
                        status TEXT NOT NULL CHECK (status IN ('Synced', 'Outstanding', 'Paid', 'Overdue', 'Voided')),
                        doc_number TEXT,
                        total_minor INTEGER,
                        balance_minor INTEGER,
                        due_date TEXT,
                        last_synced_at INTEGER,
                        last_error TEXT,
                        content_hash BLOB,
                        pending_request_id TEXT,
                        development_id TEXT,
                        qbo_state TEXT NOT NULL DEFAULT 'active' CHECK (qbo_state IN ('active', 'voided', 'deleted')),
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        UNIQUE (org, kind, local_id)
                    ) STRICT
                    """
            )
            try db.execute(sql: "CREATE UNIQUE INDEX qb_entity_mappings_qbo ON qb_entity_mappings(org, qbo_type, qbo_id) WHERE qbo_id IS NOT NULL")
            try db.execute(sql: "CREATE INDEX qb_entity_mappings_list ON qb_entity_mappings(org, kind, status, id)")
            try db.execute(sql: "CREATE TABLE qb_items (realm_id TEXT NOT NULL, name TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (realm_id, name)) STRICT")
            try db.execute(sql: "CREATE TABLE qb_read_meter (realm_id TEXT NOT NULL, month TEXT NOT NULL, reads INTEGER NOT NULL, PRIMARY KEY (realm_id, month)) STRICT")
        }
        migrator.registerMigration("v4-webhooks") { db in
            // The delivery log is append-only: the database itself refuses UPDATE and DELETE.
            try db.execute(
                sql: """
                    CREATE TABLE qb_webhook_deliveries (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        received_at INTEGER NOT NULL,
                        body BLOB NOT NULL,
                        signature TEXT NOT NULL,
                        remote_address TEXT,
                        format TEXT NOT NULL CHECK (format IN ('classic', 'cloudevents', 'unknown'))
                    ) STRICT;
                    CREATE TRIGGER qb_webhook_deliveries_append_only_update BEFORE UPDATE ON qb_webhook_deliveries
                    BEGIN SELECT RAISE(ABORT, 'the webhook delivery log is append-only'); END;
                    CREATE TRIGGER qb_webhook_deliveries_append_only_delete BEFORE DELETE ON qb_webhook_deliveries
                    BEGIN SELECT RAISE(ABORT, 'the webhook delivery log is append-only'); END;
                    CREATE TABLE qb_webhook_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        delivery_id INTEGER NOT NULL REFERENCES qb_webhook_deliveries(id),
                        received_at INTEGER NOT NULL,
                        realm_id TEXT NOT NULL,
                        org TEXT,
                        entity_name TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        operation TEXT NOT NULL,
                        last_updated TEXT,
                        type TEXT NOT NULL,
                        cloud_event_id TEXT,
                        dedupe_key TEXT NOT NULL,
                        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed', 'ignored')),
                        process_error TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        processed_at INTEGER,
                        next_attempt_at INTEGER
                    ) STRICT;
                    CREATE INDEX qb_webhook_events_work ON qb_webhook_events(status, next_attempt_at, id);
                    CREATE INDEX qb_webhook_events_dedupe ON qb_webhook_events(dedupe_key, id);
                    CREATE INDEX qb_webhook_events_org ON qb_webhook_events(org, id);
                    CREATE TRIGGER qb_webhook_events_facts_immutable
                    BEFORE UPDATE OF delivery_id, received_at, realm_id, org, entity_name, entity_id, operation, last_updated, type, cloud_event_id, dedupe_key
                    ON qb_webhook_events
                    BEGIN SELECT RAISE(ABORT, 'webhook event facts are immutable'); END;
                    CREATE TRIGGER qb_webhook_events_no_delete BEFORE DELETE ON qb_webhook_events
                    BEGIN SELECT RAISE(ABORT, 'webhook events are never deleted'); END;
                    """
            )
        }
        migrator.registerMigration("v5-reconciler") { db in
            // Per company: how far the CDC feed has been read, and how many changes it found that no
            // webhook had reported (the webhook channel's measured loss).
            try db.execute(
                sql: """
                    CREATE TABLE qb_reconcile_state (
                        realm_id TEXT PRIMARY KEY NOT NULL,
                        checkpoint INTEGER NOT NULL,
                        changes INTEGER NOT NULL DEFAULT 0,
                        missed INTEGER NOT NULL DEFAULT 0,
                        last_run_at INTEGER
                    ) STRICT
                    """
            )
        }
        migrator.registerMigration("v6-read-budget") { db in
            // The app-wide read budget: metered reads per month and class, counted before each call
            // so that a crash loses no count; and whether Intuit itself refused for the month.
            // The change-feed state per company gains what the sweep plan needs; mappings keep the
            // QuickBooks time of the last record stored (a webhook about it needs no read); payments'
            // links survive their void or delete; events record what resolved them.
            try db.execute(
                sql: """
                    CREATE TABLE qb_read_months (
                        month TEXT PRIMARY KEY NOT NULL,
                        sweep INTEGER NOT NULL DEFAULT 0,
                        event INTEGER NOT NULL DEFAULT 0,
                        operator INTEGER NOT NULL DEFAULT 0,
                        refused_by_intuit INTEGER NOT NULL DEFAULT 0
                    ) STRICT;
                    INSERT INTO qb_read_months (month, event)
                        SELECT month, SUM(reads) FROM qb_read_meter GROUP BY month;
                    ALTER TABLE qb_reconcile_state ADD COLUMN suspected_loss INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE qb_reconcile_state ADD COLUMN reads INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE qb_entity_mappings ADD COLUMN qbo_updated_at INTEGER;
                    CREATE TABLE qb_payment_links (
                        realm_id TEXT NOT NULL,
                        payment_id TEXT NOT NULL,
                        invoice_id TEXT NOT NULL,
                        PRIMARY KEY (realm_id, payment_id, invoice_id)
                    ) STRICT;
                    ALTER TABLE qb_webhook_events ADD COLUMN resolution TEXT;
                    CREATE INDEX qb_webhook_events_realm_work ON qb_webhook_events(realm_id, status, id);
                    """
            )
        }
        migrator.registerMigration("v7-drift-and-invoice-history") { db in
            // Mappings keep their company, the QuickBooks-side fields their last push left there (to
            // tell an edit made in QuickBooks) and that edit (drift) until a push resolves it. Every
            // change of an invoice's stored state appends a history row in the same transaction; the
            // history is append-only, so a status can be rebuilt from it alone (`audit.verify`).
            // Existing invoices start their history with one `migrated` row of their stored state.
            try db.execute(
                sql: """
                    ALTER TABLE qb_entity_mappings ADD COLUMN realm_id TEXT;
                    ALTER TABLE qb_entity_mappings ADD COLUMN pushed_fields TEXT;
                    ALTER TABLE qb_entity_mappings ADD COLUMN drift TEXT;
                    UPDATE qb_entity_mappings SET realm_id = (SELECT c.realm_id FROM qb_configs c WHERE c.org = qb_entity_mappings.org);
                    CREATE TABLE qb_invoice_history (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at INTEGER NOT NULL,
                        org TEXT NOT NULL,
                        demand_id TEXT NOT NULL,
                        realm_id TEXT,
                        qbo_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('Outstanding', 'Paid', 'Overdue', 'Voided')),
                        sync_token TEXT,
                        request_id TEXT,
                        content_hash BLOB,
                        total_minor INTEGER,
                        balance_minor INTEGER,
                        due_date TEXT,
                        doc_number TEXT,
                        qbo_state TEXT NOT NULL CHECK (qbo_state IN ('active', 'voided', 'deleted')),
                        qbo_updated_at INTEGER,
                        changes TEXT,
                        detail TEXT
                    ) STRICT;
                    CREATE INDEX qb_invoice_history_demand ON qb_invoice_history(org, demand_id, id);
                    CREATE TRIGGER qb_invoice_history_append_only_update BEFORE UPDATE ON qb_invoice_history
                    BEGIN SELECT RAISE(ABORT, 'the invoice history is append-only'); END;
                    CREATE TRIGGER qb_invoice_history_append_only_delete BEFORE DELETE ON qb_invoice_history
                    BEGIN SELECT RAISE(ABORT, 'the invoice history is append-only'); END;
                    INSERT INTO qb_invoice_history (at, org, demand_id, realm_id, qbo_id, kind, status, sync_token, content_hash, total_minor, balance_minor,
                        due_date, doc_number, qbo_state, qbo_updated_at, detail)
                    SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000, org, local_id, realm_id, qbo_id, 'migrated', status, sync_token, content_hash,
                        total_minor, balance_minor, due_date, doc_number, qbo_state, qbo_updated_at, 'the state stored when the history began (qbsyncd 0.2)'
                    FROM qb_entity_mappings WHERE kind = 'demand' AND qbo_id IS NOT NULL ORDER BY id;
                    """
            )
        }
        migrator.registerMigration("v8-item-income-account") { db in
            // Which income account the company's service item posts to (org.test says it).
            try db.execute(sql: "ALTER TABLE qb_items ADD COLUMN income_account TEXT")
        }
        // The columns of a mapping, live or archived (v9).
        let mappingColumns = """
            org TEXT NOT NULL,
            realm_id TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL CHECK (kind IN ('development', 'demand')),
            local_id TEXT NOT NULL,
            qbo_type TEXT NOT NULL,
            qbo_id TEXT,
            sync_token TEXT,
            status TEXT NOT NULL CHECK (status IN ('Synced', 'Outstanding', 'Paid', 'Overdue', 'Voided')),
            doc_number TEXT,
            total_minor INTEGER,
            balance_minor INTEGER,
            due_date TEXT,
            last_synced_at INTEGER,
            last_error TEXT,
            content_hash BLOB,
            pending_request_id TEXT,
            pending_content_hash BLOB,
            development_id TEXT,
            qbo_state TEXT NOT NULL DEFAULT 'active' CHECK (qbo_state IN ('active', 'voided', 'deleted')),
            qbo_updated_at INTEGER,
            pushed_fields TEXT,
            drift TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
            """
        migrator.registerMigration("v9-realm-scoped-mappings") { db in
            // QuickBooks ids are small per-company integers, so a mapping means something only in its
            // company (F1): the company is part of every key, and every lookup names it. A mapping
            // made before its company was known ('') is claimed by the org's next connection. A
            // move to another company archives the old company's mappings: kept, read-only, out of
            // every lookup. A create's intent also keeps the hash of the content it sends (F9).
            try db.execute(
                sql: """
                    CREATE TABLE qb_entity_mappings_v9 (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        \(mappingColumns),
                        UNIQUE (org, realm_id, kind, local_id)
                    ) STRICT;
                    INSERT INTO qb_entity_mappings_v9 (id, org, realm_id, kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor, due_date, last_synced_at, last_error, content_hash, pending_request_id, development_id, qbo_state, qbo_updated_at, pushed_fields, drift, created_at, updated_at)
                        SELECT id, org, COALESCE(realm_id, ''), kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor,
                            due_date, last_synced_at, last_error, content_hash, pending_request_id, development_id, qbo_state, qbo_updated_at, pushed_fields,
                            drift, created_at, updated_at
                        FROM qb_entity_mappings;
                    DROP TABLE qb_entity_mappings;
                    ALTER TABLE qb_entity_mappings_v9 RENAME TO qb_entity_mappings;
                    CREATE UNIQUE INDEX qb_entity_mappings_qbo ON qb_entity_mappings(org, realm_id, qbo_type, qbo_id) WHERE qbo_id IS NOT NULL;
                    CREATE INDEX qb_entity_mappings_list ON qb_entity_mappings(org, kind, status, id);
                    CREATE TABLE qb_entity_mappings_archive (
                        id INTEGER PRIMARY KEY,
                        \(mappingColumns),
                        archived_at INTEGER NOT NULL,
                        archived_for_realm TEXT NOT NULL
                    ) STRICT;
                    CREATE INDEX qb_entity_mappings_archive_org ON qb_entity_mappings_archive(org, realm_id);
                    CREATE TRIGGER qb_entity_mappings_archive_read_only_update BEFORE UPDATE ON qb_entity_mappings_archive
                    BEGIN SELECT RAISE(ABORT, 'archived mappings are read-only'); END;
                    CREATE TRIGGER qb_entity_mappings_archive_read_only_delete BEFORE DELETE ON qb_entity_mappings_archive
                    BEGIN SELECT RAISE(ABORT, 'archived mappings are read-only'); END;
                    """
            )
        }
        migrator.registerMigration("v10-log-dedupe-and-archives") { db in
            // F10: a delivery keeps the SHA-256 of its body, unique, so an exact replay is answered
            // without a second copy (rows stored before have none). CloudEvents ids are looked up
            // for the same reason. The log stays append-only; the only way rows leave it is an
            // archive (LogArchiver): its row is recorded first, append-only and hash-chained, and
            // the triggers refuse the DELETE of any row it does not cover (an older, settled row
            // of its id range).
            try db.execute(
                sql: """
                    ALTER TABLE qb_webhook_deliveries ADD COLUMN body_sha256 BLOB;
                    CREATE UNIQUE INDEX qb_webhook_deliveries_body ON qb_webhook_deliveries(body_sha256) WHERE body_sha256 IS NOT NULL;
                    CREATE INDEX qb_webhook_events_cloud_event ON qb_webhook_events(cloud_event_id) WHERE cloud_event_id IS NOT NULL;
                    CREATE INDEX qb_webhook_events_delivery ON qb_webhook_events(delivery_id);
                    CREATE TABLE qb_log_archives (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        created_at INTEGER NOT NULL,
                        received_before INTEGER NOT NULL,
                        file TEXT NOT NULL,
                        first_delivery_id INTEGER NOT NULL,
                        last_delivery_id INTEGER NOT NULL CHECK (last_delivery_id >= first_delivery_id),
                        deliveries INTEGER NOT NULL,
                        events INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        previous_sha256 TEXT
                    ) STRICT;
                    CREATE TRIGGER qb_log_archives_append_only_update BEFORE UPDATE ON qb_log_archives
                    BEGIN SELECT RAISE(ABORT, 'the archive record is append-only'); END;
                    CREATE TRIGGER qb_log_archives_append_only_delete BEFORE DELETE ON qb_log_archives
                    BEGIN SELECT RAISE(ABORT, 'the archive record is append-only'); END;
                    DROP TRIGGER qb_webhook_deliveries_append_only_delete;
                    CREATE TRIGGER qb_webhook_deliveries_archive_only_delete BEFORE DELETE ON qb_webhook_deliveries
                    WHEN NOT EXISTS (SELECT 1 FROM qb_log_archives a WHERE OLD.id BETWEEN a.first_delivery_id AND a.last_delivery_id AND OLD.received_at < a.received_before)
                    BEGIN SELECT RAISE(ABORT, 'the webhook delivery log is append-only: rows leave it only through a recorded archive'); END;
                    DROP TRIGGER qb_webhook_events_no_delete;
                    CREATE TRIGGER qb_webhook_events_archive_only_delete BEFORE DELETE ON qb_webhook_events
                    WHEN OLD.status = 'pending'
                        OR NOT EXISTS (SELECT 1 FROM qb_log_archives a WHERE OLD.delivery_id BETWEEN a.first_delivery_id AND a.last_delivery_id AND OLD.received_at < a.received_before)
                    BEGIN SELECT RAISE(ABORT, 'webhook events leave the log only through a recorded archive, and never while pending'); END;
                    """
            )
        }
        migrator.registerMigration("v11-deferred-event-extraction") { db in
            // Issue 17: a delivery is committed as raw bytes before it is answered; its events are
            // extracted after the answer. This table lists the deliveries whose events are still to
            // be extracted (written in the delivery's own transaction, emptied by the extraction's),
            // so a crash between the two loses nothing: the next start extracts what is listed.
            try db.execute(sql: "CREATE TABLE qb_webhook_unexpanded (delivery_id INTEGER PRIMARY KEY) STRICT")
        }
        migrator.registerMigration("v12-pending-updates") { db in
            // Issue 18: the updates sent for an entity whose answers are not stored yet (field names
            // and a digest of their values, JSON; `PendingUpdate`), so that a lost answer is not
            // later taken for an edit made in QuickBooks. Emptied whenever a state is stored.
            try db.execute(sql: "ALTER TABLE qb_entity_mappings ADD COLUMN pending_updates TEXT")
        }
        migrator.registerMigration("v13-digest-after-commit") { db in
            // Issue 17: the intake commits a delivery with its body digest NULL (no random index
            // page written before the answer's fsync), and the extraction fills it in afterwards.
            // The log stays append-only: a row's columns are never updated, and its digest is
            // written once, from NULL, or refused.
            try db.execute(
                sql: """
                    DROP TRIGGER qb_webhook_deliveries_append_only_update;
                    CREATE TRIGGER qb_webhook_deliveries_append_only_update
                    BEFORE UPDATE OF id, received_at, body, signature, remote_address, format ON qb_webhook_deliveries
                    BEGIN SELECT RAISE(ABORT, 'the webhook delivery log is append-only'); END;
                    CREATE TRIGGER qb_webhook_deliveries_digest_once BEFORE UPDATE OF body_sha256 ON qb_webhook_deliveries
                    WHEN OLD.body_sha256 IS NOT NULL OR NEW.body_sha256 IS NULL OR length(NEW.body_sha256) != 32
                    BEGIN SELECT RAISE(ABORT, 'the webhook delivery log is append-only: only a missing body digest is filled in, once'); END;
                    """
            )
        }
        return migrator
    }
}
