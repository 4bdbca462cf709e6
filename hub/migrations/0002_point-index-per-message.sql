DROP INDEX "track_points_msg_uidx";--> statement-breakpoint
ALTER TABLE "track_points" ADD COLUMN "point" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "track_points_msg_uidx" ON "track_points" USING btree ("edge_id","stream_id","run","seq","track_id","point");