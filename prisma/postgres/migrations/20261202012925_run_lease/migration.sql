-- CreateTable
CREATE TABLE "RunLease" (
    "runId" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "holderInfo" TEXT NOT NULL,
    "heartbeatAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RunLease_pkey" PRIMARY KEY ("runId")
);
