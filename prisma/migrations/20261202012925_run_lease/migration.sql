-- CreateTable
CREATE TABLE "RunLease" (
    "runId" TEXT NOT NULL PRIMARY KEY,
    "holder" TEXT NOT NULL,
    "holderInfo" TEXT NOT NULL,
    "heartbeatAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL
);
