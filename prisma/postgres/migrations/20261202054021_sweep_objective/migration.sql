-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN     "metric" TEXT,
ADD COLUMN     "mode" TEXT;
