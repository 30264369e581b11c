-- CreateEnum
CREATE TYPE "StatsGrain" AS ENUM ('hour', 'day');

-- CreateTable
CREATE TABLE "stats_rollup" (
    "grain" "StatsGrain" NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "scope" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "status" "TaskStatus" NOT NULL,
    "created" INTEGER NOT NULL,
    "credits" DECIMAL NOT NULL,
    "ended" INTEGER NOT NULL,

    CONSTRAINT "stats_rollup_pkey" PRIMARY KEY ("grain","bucket","scope","model","status")
);

-- CreateTable
CREATE TABLE "stats_durations" (
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "scope" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "bin" INTEGER NOT NULL,
    "tasks" INTEGER NOT NULL,
    "min_seconds" DOUBLE PRECISION NOT NULL,
    "max_seconds" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "stats_durations_pkey" PRIMARY KEY ("bucket","scope","model","bin")
);

-- CreateTable
CREATE TABLE "stats_dirty" (
    "id" BIGSERIAL NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "stats_dirty_pkey" PRIMARY KEY ("id")
);
