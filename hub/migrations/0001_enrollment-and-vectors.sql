ALTER TABLE "tokens" DROP CONSTRAINT "tokens_role_check";--> statement-breakpoint
ALTER TABLE "edges" ADD COLUMN "config" jsonb;--> statement-breakpoint
ALTER TABLE "embeddings" ADD COLUMN "vector" "bytea" NOT NULL;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "edge_id" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "used_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_role_check" CHECK ("tokens"."role" in ('viewer', 'operator', 'admin', 'edge', 'enroll'));