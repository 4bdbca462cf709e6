CREATE TABLE "edges" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"status" jsonb,
	"last_heartbeat" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "embeddings" (
	"model_id" text NOT NULL,
	"vector_key" bigint NOT NULL,
	"edge_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"run" text NOT NULL,
	"track_id" integer NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	CONSTRAINT "embeddings_model_id_vector_key_pk" PRIMARY KEY("model_id","vector_key")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"edge_id" text NOT NULL,
	"stream_id" text,
	"kind" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"edge_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"source" text DEFAULT '' NOT NULL,
	"state" text DEFAULT 'unknown' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "streams_edge_id_stream_id_pk" PRIMARY KEY("edge_id","stream_id")
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	"last_used" timestamp with time zone,
	CONSTRAINT "tokens_role_check" CHECK ("tokens"."role" in ('viewer', 'operator', 'admin', 'edge'))
);
--> statement-breakpoint
CREATE TABLE "track_points" (
	"edge_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"run" text NOT NULL,
	"seq" bigint NOT NULL,
	"track_id" integer NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"x1" real NOT NULL,
	"y1" real NOT NULL,
	"x2" real NOT NULL,
	"y2" real NOT NULL,
	"score" real NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tracks" (
	"edge_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"run" text NOT NULL,
	"track_id" integer NOT NULL,
	"label" text NOT NULL,
	"class_id" integer DEFAULT -1 NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"best_thumbnail" text,
	"best_score" real DEFAULT 0 NOT NULL,
	CONSTRAINT "tracks_edge_id_stream_id_run_track_id_pk" PRIMARY KEY("edge_id","stream_id","run","track_id")
);
--> statement-breakpoint
CREATE TABLE "uplink_acks" (
	"edge_id" text NOT NULL,
	"stream_id" text NOT NULL,
	"run" text NOT NULL,
	"last_seq" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "uplink_acks_edge_id_stream_id_run_pk" PRIMARY KEY("edge_id","stream_id","run")
);
--> statement-breakpoint
CREATE INDEX "embeddings_track_idx" ON "embeddings" USING btree ("edge_id","stream_id","run","track_id");--> statement-breakpoint
CREATE INDEX "events_edge_ts_idx" ON "events" USING btree ("edge_id","ts");--> statement-breakpoint
CREATE INDEX "events_kind_ts_idx" ON "events" USING btree ("kind","ts");--> statement-breakpoint
CREATE UNIQUE INDEX "tokens_hash_uidx" ON "tokens" USING btree ("hash");--> statement-breakpoint
CREATE UNIQUE INDEX "track_points_msg_uidx" ON "track_points" USING btree ("edge_id","stream_id","run","seq","track_id");--> statement-breakpoint
CREATE INDEX "track_points_stream_ts_idx" ON "track_points" USING btree ("edge_id","stream_id","ts");--> statement-breakpoint
CREATE INDEX "track_points_ts_idx" ON "track_points" USING btree ("ts");--> statement-breakpoint
CREATE INDEX "tracks_stream_last_seen_idx" ON "tracks" USING btree ("edge_id","stream_id","last_seen");