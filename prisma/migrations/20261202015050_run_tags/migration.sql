-- CreateTable
CREATE TABLE "RunTag" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "runId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    CONSTRAINT "RunTag_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ExperimentTag" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "experimentId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    CONSTRAINT "ExperimentTag_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "Experiment" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Run" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "experimentId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "mode" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "config" TEXT NOT NULL,
    "seed" INTEGER NOT NULL,
    "step" INTEGER NOT NULL DEFAULT 0,
    "totalUpdates" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "endedAt" DATETIME,
    "error" TEXT,
    "sweepId" TEXT,
    "resumedFromRunId" TEXT,
    "parentRunId" TEXT,
    "deletedAt" DATETIME,
    CONSTRAINT "Run_experimentId_fkey" FOREIGN KEY ("experimentId") REFERENCES "Experiment" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Run_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Run_resumedFromRunId_fkey" FOREIGN KEY ("resumedFromRunId") REFERENCES "Run" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Run_parentRunId_fkey" FOREIGN KEY ("parentRunId") REFERENCES "Run" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Run" ("config", "createdAt", "description", "endedAt", "error", "experimentId", "id", "mode", "name", "resumedFromRunId", "seed", "startedAt", "status", "step", "sweepId", "totalUpdates") SELECT "config", "createdAt", "description", "endedAt", "error", "experimentId", "id", "mode", "name", "resumedFromRunId", "seed", "startedAt", "status", "step", "sweepId", "totalUpdates" FROM "Run";
DROP TABLE "Run";
ALTER TABLE "new_Run" RENAME TO "Run";
CREATE INDEX "Run_experimentId_createdAt_idx" ON "Run"("experimentId", "createdAt");
CREATE INDEX "Run_status_idx" ON "Run"("status");
CREATE INDEX "Run_sweepId_idx" ON "Run"("sweepId");
CREATE INDEX "Run_parentRunId_idx" ON "Run"("parentRunId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "RunTag_runId_key_key" ON "RunTag"("runId", "key");

-- CreateIndex
CREATE UNIQUE INDEX "ExperimentTag_experimentId_key_key" ON "ExperimentTag"("experimentId", "key");
