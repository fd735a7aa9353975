/// SQLite's v11 on, translated (Sources/QBSyncStore/Migrations.swift says why each exists).
extension PostgresMigrations {
    static let v11On: [PostgresMigration] = [
        PostgresMigration(
            // Issue 17: deliveries committed raw, their events extracted after the answer.
            version: "v11-deferred-event-extraction",
            statements: ["CREATE TABLE qb_webhook_unexpanded (delivery_id BIGINT PRIMARY KEY)"]
        ),
        PostgresMigration(
            // Issue 18: updates sent whose answers are not stored yet (`PendingUpdate`).
            version: "v12-pending-updates",
            statements: ["ALTER TABLE qb_entity_mappings ADD COLUMN pending_updates TEXT"]
        ),
        PostgresMigration(
            // Issue 17: SQLite's intake fills a delivery's digest in after its commit. PostgreSQL's
            // keeps writing it in the commit (`ON CONFLICT (body_sha256) DO NOTHING` is its replay
            // check), so nothing changes here: the version keeps the two schemas in step.
            version: "v13-digest-after-commit",
            statements: []
        ),
    ]
}
