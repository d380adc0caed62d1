// Forward-only schema migrations. Migration i (1-based) brings a database from user_version i-1 to i.
// Never edit a released migration: add a new one. Tests open databases created at every earlier
// version with the current code (test/main/storage/migrations.test.ts).
import type Database from 'better-sqlite3'

export interface Migration {
  version: number
  description: string
  up: (db: Database.Database) => void
}

export const migrations: Migration[] = [
  {
    version: 1,
    description: 'base tables: runs, epochs, steps, predictions, labels, run_tags',
    up: (db) => {
      db.exec(`
        CREATE TABLE runs (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          name TEXT NOT NULL,
          notes TEXT NOT NULL DEFAULT '',
          status TEXT NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled','interrupted')),
          model TEXT NOT NULL,
          dataset TEXT NOT NULL,
          config TEXT NOT NULL,            -- TrainConfig as JSON
          classes TEXT NOT NULL,           -- string[] as JSON
          backend TEXT,
          device TEXT,
          lib_versions TEXT NOT NULL DEFAULT '{}',
          param_count INTEGER,
          created_at TEXT NOT NULL,
          started_at TEXT,
          finished_at TEXT,
          best_epoch INTEGER,
          best_val_acc REAL,
          test_loss REAL,
          test_acc REAL,
          test_precision TEXT,             -- number[] as JSON
          test_recall TEXT,
          test_confusion BLOB,             -- n*n uint32 little endian, row = true class
          examples_per_sec REAL,
          error TEXT,
          epochs_planned INTEGER NOT NULL
        );
        CREATE TABLE epochs (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          epoch INTEGER NOT NULL CHECK (epoch >= 1),
          train_loss REAL NOT NULL,
          train_acc REAL NOT NULL,
          val_loss REAL NOT NULL,
          val_acc REAL NOT NULL,
          seconds REAL NOT NULL,
          examples_per_sec REAL NOT NULL,
          confusion BLOB NOT NULL,         -- validation confusion, n*n uint32 little endian
          PRIMARY KEY (run_id, epoch)
        ) WITHOUT ROWID;
        -- Clustered by (run_id, x): one run's curve is one contiguous range of the b-tree.
        CREATE TABLE steps (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          x REAL NOT NULL,
          loss REAL NOT NULL,
          acc REAL NOT NULL,
          PRIMARY KEY (run_id, x)
        ) WITHOUT ROWID;
        -- epoch 0 holds the final test evaluation; 1.. the validation predictions of that epoch.
        CREATE TABLE predictions (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          epoch INTEGER NOT NULL CHECK (epoch >= 0),
          classes BLOB NOT NULL,           -- one byte per example: the predicted class
          PRIMARY KEY (run_id, epoch)
        );
        -- True test labels, so two runs can be diffed example by example without loading the dataset.
        CREATE TABLE labels (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          split TEXT NOT NULL CHECK (split IN ('test')),
          classes BLOB NOT NULL,
          PRIMARY KEY (run_id, split)
        );
        CREATE TABLE run_tags (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          tag TEXT NOT NULL,
          PRIMARY KEY (run_id, tag)
        ) WITHOUT ROWID;
      `)
    }
  },
  {
    version: 2,
    description: 'fast history: epochs_done kept on the run row, an index per sort key, tag lookup',
    up: (db) => {
      db.exec(`
        ALTER TABLE runs ADD COLUMN epochs_done INTEGER NOT NULL DEFAULT 0;
        UPDATE runs SET epochs_done = (SELECT COUNT(*) FROM epochs e WHERE e.run_id = runs.id);
        CREATE INDEX runs_created ON runs(created_at, id);
        CREATE INDEX runs_name ON runs(name COLLATE NOCASE, id);
        CREATE INDEX runs_status ON runs(status, id);
        CREATE INDEX runs_model ON runs(model, id);
        CREATE INDEX runs_dataset ON runs(dataset, id);
        CREATE INDEX runs_best_val_acc ON runs(best_val_acc, id);
        CREATE INDEX runs_test_acc ON runs(test_acc, id);
        CREATE INDEX runs_test_loss ON runs(test_loss, id);
        CREATE INDEX runs_examples_per_sec ON runs(examples_per_sec, id);
        CREATE INDEX runs_param_count ON runs(param_count, id);
        CREATE INDEX run_tags_tag ON run_tags(tag, run_id);
      `)
    }
  },
  {
    version: 3,
    description: 'ascending sorts with NULLs last on the nullable metrics walk an index too',
    up: (db) => {
      // v2's indexes serve descending order (NULLs sort last there already); ascending with NULLs last
      // orders by (col IS NULL, col), which only an index on those same expressions can serve.
      for (const col of ['best_val_acc', 'test_acc', 'test_loss', 'examples_per_sec', 'param_count'])
        db.exec(`CREATE INDEX runs_${col}_nulls_last ON runs((${col} IS NULL), ${col}, id)`)
    }
  },
  {
    version: 4,
    description: 'inspection (issue 18): per-epoch weight/gradient histograms and first-conv filters; each example\'s probability of its true class',
    up: (db) => {
      db.exec(`
        CREATE TABLE epoch_inspection (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          epoch INTEGER NOT NULL CHECK (epoch >= 1),
          histograms TEXT NOT NULL,        -- LayerHistogram[] as JSON
          filters TEXT,                    -- FilterSnapshot as JSON, NULL without a convolution
          PRIMARY KEY (run_id, epoch)
        );
        -- epoch 0: the test evaluation; 1..: that epoch's validation examples, in prediction order.
        CREATE TABLE true_probabilities (
          run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          epoch INTEGER NOT NULL CHECK (epoch >= 0),
          probs BLOB NOT NULL,             -- float32 little-endian, one per example
          PRIMARY KEY (run_id, epoch)
        );
      `)
    }
  },
  {
    version: 5,
    description: 'runs at scale (issue 19): sweeps, each run\'s sweep, the run a fine-tune started from',
    up: (db) => {
      db.exec(`
        CREATE TABLE sweeps (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          name TEXT NOT NULL,
          spec TEXT NOT NULL,              -- SweepSpec as JSON: base config, grid, random ranges, seeds
          created_at TEXT NOT NULL,
          cancelled_at TEXT                -- set when the sweep was cancelled; its status is otherwise its runs'
        );
        ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id) ON DELETE SET NULL;
        ALTER TABLE runs ADD COLUMN init_from INTEGER;
        CREATE INDEX runs_sweep ON runs(sweep_id, id);
      `)
    }
  }
]
