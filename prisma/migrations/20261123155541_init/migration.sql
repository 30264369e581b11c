-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "TaskStatus" AS ENUM ('queued', 'not_started', 'running', 'finished', 'failed');

-- CreateEnum
CREATE TYPE "TaskEventType" AS ENUM ('created', 'submit_attempt', 'callback', 'poll', 'status_changed', 'ignored_update');

-- CreateEnum
CREATE TYPE "TaskEventSource" AS ENUM ('api', 'submitter', 'callback', 'poller', 'system');

-- CreateEnum
CREATE TYPE "ApiKeyRole" AS ENUM ('client', 'admin');

-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('pending', 'delivered', 'failed', 'stopped');

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "role" "ApiKeyRole" NOT NULL DEFAULT 'client',
    "webhook_secret" TEXT NOT NULL,
    "previous_webhook_secret" TEXT,
    "previous_webhook_secret_expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tasks" (
    "id" UUID NOT NULL,
    "api_key_id" UUID,
    "model" TEXT NOT NULL,
    "status" "TaskStatus" NOT NULL DEFAULT 'queued',
    "input" JSONB NOT NULL,
    "metadata" JSONB,
    "provider_task_id" TEXT,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "files" JSONB NOT NULL DEFAULT '[]',
    "error_code" TEXT,
    "error_message" TEXT,
    "provider_error_code" INTEGER,
    "provider_error_type" TEXT,
    "credits" DOUBLE PRECISION,
    "estimated_credits" INTEGER NOT NULL,
    "webhook_url" TEXT,
    "webhook_events" "TaskStatus"[],
    "idempotency_key" TEXT,
    "request_hash" TEXT,
    "client_scope" TEXT NOT NULL,
    "submit_ambiguous" BOOLEAN NOT NULL DEFAULT false,
    "submit_attempts" INTEGER NOT NULL DEFAULT 0,
    "submit_in_flight_at" TIMESTAMPTZ(3),
    "next_poll_at" TIMESTAMPTZ(3),
    "poll_attempts" INTEGER NOT NULL DEFAULT 0,
    "deadline_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "submitted_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_events" (
    "id" BIGSERIAL NOT NULL,
    "task_id" UUID NOT NULL,
    "type" "TaskEventType" NOT NULL,
    "source" "TaskEventSource" NOT NULL,
    "from_status" "TaskStatus",
    "to_status" "TaskStatus",
    "payload" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "task_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "event" "TaskStatus" NOT NULL,
    "url" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'pending',
    "attempt_count" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_attempts" (
    "id" BIGSERIAL NOT NULL,
    "delivery_id" UUID NOT NULL,
    "number" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "http_status" INTEGER,
    "error" TEXT,
    "response_body" TEXT,

    CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys"("prefix");

-- CreateIndex
CREATE UNIQUE INDEX "tasks_provider_task_id_key" ON "tasks"("provider_task_id");

-- CreateIndex
CREATE INDEX "tasks_created_at_id_idx" ON "tasks"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "tasks_status_created_at_id_idx" ON "tasks"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "tasks_model_created_at_id_idx" ON "tasks"("model", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "tasks_api_key_id_created_at_id_idx" ON "tasks"("api_key_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "tasks_next_poll_at_idx" ON "tasks"("next_poll_at");

-- CreateIndex
CREATE INDEX "tasks_finished_at_idx" ON "tasks"("finished_at");

-- CreateIndex
CREATE UNIQUE INDEX "tasks_client_scope_idempotency_key_key" ON "tasks"("client_scope", "idempotency_key");

-- CreateIndex
CREATE INDEX "task_events_task_id_id_idx" ON "task_events"("task_id", "id");

-- CreateIndex
CREATE INDEX "webhook_deliveries_task_id_created_at_idx" ON "webhook_deliveries"("task_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_task_id_event_key" ON "webhook_deliveries"("task_id", "event");

-- CreateIndex
CREATE INDEX "webhook_attempts_delivery_id_number_idx" ON "webhook_attempts"("delivery_id", "number");

-- AddForeignKey
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_events" ADD CONSTRAINT "task_events_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;
