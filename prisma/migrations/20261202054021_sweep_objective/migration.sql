-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN "metric" TEXT;
ALTER TABLE "Sweep" ADD COLUMN "mode" TEXT;
