/*
 * webhook/worker.c
 *		Delivery of events to webhooks by background workers, and the
 *		settings that govern it.
 *
 *		With shared_preload_libraries = 'participants' the postmaster starts
 *		a launcher. It connects to no database; every 30 seconds it lists
 *		the databases that accept connections (pg_database), and it starts a
 *		delivery worker for a database when one is wanted: once for every
 *		database at first (to find out whether it has the extension and
 *		events to deliver, also those left by a crash), when a transaction
 *		that wrote events or changed webhooks commits there, when a retry
 *		falls due, and now and then to look again. At most
 *		participants.webhook_workers delivery workers run at once, one per
 *		database.
 *
 *		Waking. A transaction that writes an event (study/events.c) or
 *		changes a webhook (webhooks.c) marks itself; when it commits, a
 *		transaction callback sets the latch of its database's delivery
 *		worker, or the launcher's when none runs. Delivery thus starts
 *		within milliseconds of the commit, and only after it: an event of a
 *		transaction that rolls back is never seen. A database whose
 *		worker found no active webhook is not woken by events, only by a
 *		change of its webhooks.
 *
 *		Delivering. A delivery worker loops: in a short transaction it
 *		records the attempts made since the last one and advances each
 *		webhook's cursor (last_delivered_event_id), then loads the webhooks
 *		that are due with the events after their cursors, read as
 *		events_since reads them (PtReadEvents: in id order, stopping before
 *		the first event whose transaction is still in flight, never waiting
 *		for a writer nor making one wait). Outside any transaction it then
 *		sends them with libcurl's multi interface: every webhook has one
 *		request in flight at a time, its next event only after the previous
 *		one succeeded, and the webhooks proceed side by side, so a slow or a
 *		dead receiver holds up only its own webhook. Connections are kept
 *		and reused. A failed attempt stops its webhook until the retry
 *		falls due (PtWebhookBackoffSeconds); after
 *		participants.webhook_max_attempts failures in a row the webhook is
 *		failing and waits for update_webhook(active => true) or
 *		replay_webhook.
 *
 *		Crashes. The cursor moves only after the receiver answered 2xx, in a
 *		transaction committed after the request; a crash in between sends
 *		the event again, with the same webhook-id (at least once, never
 *		skipped). The worker's own commits do not wait for the disk
 *		(synchronous_commit = off): a crash can only make it send again.
 *
 *		Priority. A delivery worker runs at nice 10: when the cores are short,
 *		the server's writers come first and delivery catches up when they
 *		pause.
 *
 *		Stopping. A worker that had nothing to do for two seconds exits
 *		(leaving the time of the next retry to the launcher), so that DROP
 *		DATABASE, which waits up to five seconds for other sessions to
 *		leave, is not held up by it; a worker that finds the extension gone
 *		(DROP EXTENSION) exits at once.
 */
#include "postgres.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "webhook/webhook.h"

PGDLLEXPORT void participants_webhook_launcher(Datum main_arg);
PGDLLEXPORT void participants_webhook_worker(Datum main_arg);

/* Settings */
int			pt_webhook_workers = 2;
int			pt_webhook_timeout = 10;
int			pt_webhook_max_attempts = 8;
char	   *pt_webhook_allowed_hosts = NULL;
bool		pt_webhooks_preloaded = false;

#define MAX_DATABASES	64		/* databases the launcher keeps track of */
#define RESCAN_MS		30000	/* the launcher lists the databases again */
#define RECHECK_ACTIVE_MS 30000 /* a database with active webhooks is looked at again */
#define RECHECK_IDLE_MS 300000	/* one without (or without the extension) */
#define RESTART_DELAY_MS 5000	/* after a worker failed */
#define IDLE_EXIT_MS	2000	/* a worker with nothing to do exits */
#define FLUSH_MS		100		/* attempts are recorded at least this often */
#define EVENTS_PER_LOAD 500		/* events read per webhook at a time */
#define MAX_BODY		65536	/* of an answer, read at most */
#define WORKER_NICE		10		/* a delivery worker's CPU priority (nice) */

/* ------------------------------------------------------------------------
 * Shared memory: one slot per database
 * ------------------------------------------------------------------------
 */
typedef enum SlotState
{
	SLOT_UNKNOWN = 0,			/* to be looked at */
	SLOT_NO_EXTENSION,			/* the extension is not installed there */
	SLOT_IDLE,					/* no active webhook */
	SLOT_ACTIVE					/* active webhooks */
} SlotState;

typedef struct DbSlot
{
	Oid			dboid;			/* InvalidOid: free */
	int			pid;			/* its delivery worker; 0 none, -1 starting */
	Latch	   *latch;			/* the worker's */
	bool		wanted;			/* a commit since the worker last looked */
	SlotState	state;
	TimestampTz due;			/* a retry falls due (0: none) */
	TimestampTz checked;		/* a worker last stopped */
	TimestampTz not_before;		/* no worker before (after a failure) */
} DbSlot;

typedef struct WebhookShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	DbSlot		slots[MAX_DATABASES];
} WebhookShared;

static WebhookShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
ShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WebhookShared)));
	RequestNamedLWLockTranche("participants_webhooks", 1);
}

static void
ShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("participants_webhooks", sizeof(WebhookShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(WebhookShared));
		shared->lock = &(GetNamedLWLockTranche("participants_webhooks"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The slot of a database (claimed if claim and there is none); lock held */
static DbSlot *
FindSlot(Oid dboid, bool claim)
{
	DbSlot	   *free_slot = NULL;
	int			i;

	for (i = 0; i < MAX_DATABASES; i++)
	{
		if (shared->slots[i].dboid == dboid)
			return &shared->slots[i];
		if (free_slot == NULL && shared->slots[i].dboid == InvalidOid)
			free_slot = &shared->slots[i];
	}
	if (!claim || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(DbSlot));
	free_slot->dboid = dboid;
	free_slot->state = SLOT_UNKNOWN;
	return free_slot;
}

/* ------------------------------------------------------------------------
 * Waking at commit
 * ------------------------------------------------------------------------
 */
static bool mark_events = false;
static bool mark_webhooks = false;
static bool mark_registered = false;
static bool in_delivery_worker = false;

static void
Wake(bool webhooks_changed)
{
	DbSlot	   *slot;
	Latch	   *latch = NULL;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot = FindSlot(MyDatabaseId, true);
	if (slot != NULL && (webhooks_changed || slot->state != SLOT_IDLE))
	{
		if (slot->state != SLOT_ACTIVE)
			slot->state = SLOT_UNKNOWN;
		slot->wanted = true;
		if (slot->pid > 0)
			latch = slot->latch;
		else if (slot->pid == 0)
			latch = shared->launcher_latch;
	}
	LWLockRelease(shared->lock);
	if (latch)
		SetLatch(latch);
}

static void
MarkXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (mark_events || mark_webhooks)
				Wake(mark_webhooks);
			mark_events = mark_webhooks = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			mark_events = mark_webhooks = false;
			break;
		default:
			break;
	}
}

/*
 * This transaction wrote an event (webhooks_changed false) or changed a
 * webhook: wake delivery when it commits. Nothing without the preloaded
 * library, and nothing in a delivery worker (its own writes).
 */
void
PtWebhookMark(bool webhooks_changed)
{
	if (shared == NULL || in_delivery_worker)
		return;
	if (!mark_registered)
	{
		RegisterXactCallback(MarkXactCallback, NULL);
		mark_registered = true;
	}
	if (webhooks_changed)
		mark_webhooks = true;
	else
		mark_events = true;
}

void
PtWebhookEventWritten(void)
{
	PtWebhookMark(false);
}

/* ------------------------------------------------------------------------
 * The launcher
 * ------------------------------------------------------------------------
 */

static long
MsUntil(TimestampTz t, TimestampTz now)
{
	return t <= now ? 0 : (long) ((t - now) / 1000);
}

/* Keep a slot for every database that accepts connections, and only for those */
static void
ScanDatabases(BackgroundWorkerHandle **handles)
{
	Oid			dbs[MAX_DATABASES * 4];
	int			n = 0;
	int			i,
				j;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate && n < (int) lengthof(dbs))
			dbs[n++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < MAX_DATABASES; i++)
	{
		DbSlot	   *s = &shared->slots[i];
		bool		exists = false;

		if (s->dboid == InvalidOid || s->pid != 0 || handles[i] != NULL)
			continue;
		for (j = 0; j < n && !exists; j++)
			exists = dbs[j] == s->dboid;
		if (!exists)
			s->dboid = InvalidOid;
	}
	for (j = 0; j < n; j++)
		(void) FindSlot(dbs[j], true);
	LWLockRelease(shared->lock);
}

static bool
StartWorker(Oid dboid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "participants");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "participants_webhook_worker");
	snprintf(w.bgw_name, BGW_MAXLEN, "participants webhook delivery for database %u", dboid);
	snprintf(w.bgw_type, BGW_MAXLEN, "participants webhook delivery");
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	w.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&w, handle);
}

static void
LauncherDetach(int code, Datum arg)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->launcher_latch = NULL;
	LWLockRelease(shared->lock);
}

void
participants_webhook_launcher(Datum main_arg)
{
	BackgroundWorkerHandle *handles[MAX_DATABASES];
	TimestampTz last_scan = 0;

	memset(handles, 0, sizeof(handles));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("participants webhook launcher");

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->launcher_latch = MyLatch;
	LWLockRelease(shared->lock);
	on_shmem_exit(LauncherDetach, 0);

	for (;;)
	{
		TimestampTz now;
		long		timeout = RESCAN_MS;
		int			start[MAX_DATABASES];
		int			nstart = 0;
		int			running = 0;
		int			i;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();

		/* workers that stopped */
		for (i = 0; i < MAX_DATABASES; i++)
		{
			pid_t		pid;

			if (handles[i] == NULL ||
				GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
				continue;
			pfree(handles[i]);
			handles[i] = NULL;
			LWLockAcquire(shared->lock, LW_EXCLUSIVE);
			if (shared->slots[i].pid != 0)
			{
				/*
				 * it never started, or failed before it could say so (its
				 * database may be gone: list them again)
				 */
				shared->slots[i].pid = 0;
				shared->slots[i].latch = NULL;
				shared->slots[i].not_before = TimestampTzPlusMilliseconds(now, RESTART_DELAY_MS);
				last_scan = 0;
			}
			LWLockRelease(shared->lock);
		}

		if (last_scan == 0 || TimestampDifferenceExceeds(last_scan, now, RESCAN_MS))
		{
			ScanDatabases(handles);
			last_scan = now;
		}

		/* workers wanted */
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < MAX_DATABASES; i++)
			if (shared->slots[i].dboid != InvalidOid && shared->slots[i].pid != 0)
				running++;
		for (i = 0; i < MAX_DATABASES; i++)
		{
			DbSlot	   *s = &shared->slots[i];
			bool		want;

			if (s->dboid == InvalidOid || s->pid != 0 || handles[i] != NULL)
				continue;
			want = s->wanted || s->state == SLOT_UNKNOWN ||
				(s->due != 0 && s->due <= now) ||
				(s->state == SLOT_ACTIVE &&
				 TimestampDifferenceExceeds(s->checked, now, RECHECK_ACTIVE_MS)) ||
				TimestampDifferenceExceeds(s->checked, now, RECHECK_IDLE_MS);
			if (want && s->not_before > now)
			{
				timeout = Min(timeout, Max(MsUntil(s->not_before, now), 10));
				continue;
			}
			if (want && running < pt_webhook_workers)
			{
				s->pid = -1;
				start[nstart++] = i;
				running++;
			}
			else if (s->due != 0)
				timeout = Min(timeout, Max(MsUntil(s->due, now), 10));
		}
		LWLockRelease(shared->lock);
		for (i = 0; i < nstart; i++)
		{
			DbSlot	   *s = &shared->slots[start[i]];

			if (!StartWorker(s->dboid, &handles[start[i]]))
			{
				LWLockAcquire(shared->lock, LW_EXCLUSIVE);
				s->pid = 0;
				s->not_before = TimestampTzPlusMilliseconds(now, RESTART_DELAY_MS);
				LWLockRelease(shared->lock);
				handles[start[i]] = NULL;
			}
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
	}
}

/* ------------------------------------------------------------------------
 * A delivery worker
 * ------------------------------------------------------------------------
 */

typedef struct HookKey
{
	pg_uuid_t	project;
	pg_uuid_t	id;
} HookKey;

typedef struct Event
{
	int64		id;
	bool		match;			/* of the webhook's types */
	char	   *type;
	char	   *body;
	int			len;
} Event;

typedef struct Attempt
{
	int64		event_id;
	char	   *type;
	int			attempt;
	TimestampTz at;
	int			status;			/* 0: no answer */
	char	   *error;			/* NULL: delivered */
	int			ms;
} Attempt;

typedef struct Hook
{
	HookKey		key;
	bool		live;			/* due, as this tick loaded */
	MemoryContext cxt;			/* url, secret, types, events */
	char	   *url;
	char	   *host;
	char	   *secret;
	char	  **types;			/* NULL: every type */
	int			ntypes;
	char	   *types_text;		/* event_types as text, to see a change */
	bool		stale;			/* changed while sending: load again after */
	int64		db_cursor;		/* last_delivered_event_id as stored */
	int64		cursor;			/* every event up to it is done */
	int			attempts;		/* failed attempts at the next event */
	Event	   *events;
	int			nevents;
	int			next;
	bool		failed;			/* waits for a retry */
	Attempt    *results;		/* to record (in results_cxt) */
	int			nresults;
	int			maxresults;
	bool		dirty;
	CURL	   *easy;
	struct curl_slist *headers;
	bool		in_flight;
	TimestampTz started;
	size_t		body_seen;
	bool		body_cut;
	char		refused[256];
	char		errbuf[CURL_ERROR_SIZE];
} Hook;

static volatile DbSlot *my_slot = NULL;
static HTAB *hooks = NULL;
static CURLM *multi = NULL;
static int	in_flight = 0;
static MemoryContext worker_cxt = NULL;
static MemoryContext results_cxt = NULL;
static MemoryContext scratch_cxt = NULL;
static ResourceOwner worker_owner = NULL;

static void
WorkerDetach(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();

	if (my_slot == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
		my_slot->checked = now;
		if (code != 0)
			my_slot->not_before = TimestampTzPlusMilliseconds(now, RESTART_DELAY_MS);
	}
	LWLockRelease(shared->lock);
	my_slot = NULL;
}

static void
SetState(SlotState state, TimestampTz due)
{
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	my_slot->state = state;
	my_slot->due = due;
	LWLockRelease(shared->lock);
}

/* Collect one event for a webhook (PtReadEvents' callback) */
static void
CollectEvent(int64 id, Jsonb *payload, TimestampTz created, void *arg)
{
	Hook	   *h = arg;
	MemoryContext old = MemoryContextSwitchTo(h->cxt);
	Event	   *e = &h->events[h->nevents++];
	JsonbValue	v;
	int			i;

	e->id = id;
	e->body = JsonbToCString(NULL, &payload->root, VARSIZE(payload));
	e->len = strlen(e->body);
	e->type = "";
	if (getKeyJsonValueFromContainer(&payload->root, "eventType", 9, &v) != NULL &&
		v.type == jbvString)
		e->type = pnstrdup(v.val.string.val, v.val.string.len);
	e->match = h->types == NULL;
	for (i = 0; i < h->ntypes && !e->match; i++)
		e->match = strcmp(h->types[i], e->type) == 0;
	MemoryContextSwitchTo(old);
}

static void
DropHook(Hook *h)
{
	if (h->easy)
		curl_easy_cleanup(h->easy);
	if (h->headers)
		curl_slist_free_all(h->headers);
	MemoryContextDelete(h->cxt);
	hash_search(hooks, &h->key, HASH_REMOVE, NULL);
}

/* Record the attempts made since the last tick and move the cursors */
static void
Flush(void)
{
	static SPIPlanPtr update = NULL;
	static SPIPlanPtr insert = NULL;
	HASH_SEQ_STATUS seq;
	Hook	   *h;
	TimestampTz now = GetCurrentTimestamp();

	if (update == NULL)
	{
		Oid			t1[8] = {UUIDOID, UUIDOID, INT4OID, INT8OID, INT8OID, INT4OID, BOOLOID, TIMESTAMPTZOID};
		Oid			t2[11] = {UUIDOID, UUIDOID, INT8OID, INT4OID, INT8ARRAYOID, TEXTARRAYOID,
		INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID};

		PtPreparePlan(&update,
					  "UPDATE participants.webhook SET last_delivery_number = last_delivery_number + $3, "
					  "last_delivered_event_id = CASE WHEN last_delivered_event_id = $4 THEN $5 ELSE last_delivered_event_id END, "
					  "attempts = CASE WHEN last_delivered_event_id = $4 THEN $6 ELSE attempts END, "
					  "failing = CASE WHEN last_delivered_event_id = $4 THEN $7 ELSE failing END, "
					  "next_attempt_date = CASE WHEN last_delivered_event_id = $4 AND $8 IS NOT NULL THEN $8 ELSE next_attempt_date END "
					  "WHERE project_id = $1 AND id = $2 "
					  "RETURNING last_delivery_number, last_delivered_event_id", 8, t1);
		PtPreparePlan(&insert,
					  "INSERT INTO participants.webhook_delivery (project_id, webhook_id, number, event_id, "
					  "event_type, attempt, attempted_date, http_status, error, duration_ms) "
					  "SELECT $1, $2, $3 - $4 + u.o, u.e, u.t, u.a, u.d, u.s, u.er, u.ms "
					  "FROM ROWS FROM (pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					  "pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11)) WITH ORDINALITY AS u(e, t, a, d, s, er, ms, o)",
					  11, t2);
	}

	hash_seq_init(&seq, hooks);
	while ((h = hash_seq_search(&seq)) != NULL)
	{
		Datum		args[11];
		char		nulls[11];
		bool		failing;
		bool		isnull;
		int			i;

		if (!h->dirty)
			continue;
		failing = h->failed && h->attempts >= pt_webhook_max_attempts;
		memset(nulls, ' ', sizeof(nulls));
		args[0] = UUIDPGetDatum(&h->key.project);
		args[1] = UUIDPGetDatum(&h->key.id);
		args[2] = Int32GetDatum(h->nresults);
		args[3] = Int64GetDatum(h->db_cursor);
		args[4] = Int64GetDatum(h->cursor);
		args[5] = Int32GetDatum(h->attempts);
		args[6] = BoolGetDatum(failing);
		if (h->failed)
			args[7] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(now, PtWebhookBackoffSeconds(h->attempts) * 1000L));
		else
			args[7] = (Datum) 0, nulls[7] = 'n';
		(void) PtExecutePlan(update, args, nulls, false, 0);
		h->dirty = false;
		if (SPI_processed == 0)
		{
			/* deleted meanwhile: its attempts go with it */
			h->nresults = 0;
			h->live = false;
			continue;
		}
		{
			int64		last_number = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			int64		stored = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

			if (stored != h->cursor)
			{
				/*
				 * replayed meanwhile: go on from there once what is in flight
				 * is answered (its events are read again)
				 */
				h->cursor = stored;
				h->stale = true;
			}
			h->db_cursor = stored;
			args[2] = Int64GetDatum(last_number);
		}
		if (failing)
			ereport(LOG,
					(errmsg("webhook %s of project %s is failing after %d attempts in a row; delivery paused",
							PtUuidText(&h->key.id), PtUuidText(&h->key.project), h->attempts),
					 errhint("Resume it with update_webhook(..., active => true) or replay_webhook.")));
		if (h->nresults > 0)
		{
			Datum	   *e = palloc(sizeof(Datum) * h->nresults);
			Datum	   *t = palloc(sizeof(Datum) * h->nresults);
			Datum	   *a = palloc(sizeof(Datum) * h->nresults);
			Datum	   *d = palloc(sizeof(Datum) * h->nresults);
			Datum	   *s = palloc(sizeof(Datum) * h->nresults);
			bool	   *snull = palloc(sizeof(bool) * h->nresults);
			Datum	   *er = palloc(sizeof(Datum) * h->nresults);
			bool	   *ernull = palloc(sizeof(bool) * h->nresults);
			Datum	   *ms = palloc(sizeof(Datum) * h->nresults);
			int			dims[1] = {h->nresults};
			int			lbs[1] = {1};

			for (i = 0; i < h->nresults; i++)
			{
				Attempt    *r = &h->results[i];

				e[i] = Int64GetDatum(r->event_id);
				t[i] = CStringGetTextDatum(r->type);
				a[i] = Int32GetDatum(r->attempt);
				d[i] = TimestampTzGetDatum(r->at);
				s[i] = Int32GetDatum(r->status);
				snull[i] = r->status == 0;
				er[i] = r->error ? CStringGetTextDatum(r->error) : (Datum) 0;
				ernull[i] = r->error == NULL;
				ms[i] = Int32GetDatum(r->ms);
			}
			args[3] = Int32GetDatum(h->nresults);
			args[4] = PointerGetDatum(construct_array(e, h->nresults, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			args[5] = PointerGetDatum(construct_array(t, h->nresults, TEXTOID, -1, false, TYPALIGN_INT));
			args[6] = PointerGetDatum(construct_array(a, h->nresults, INT4OID, 4, true, TYPALIGN_INT));
			args[7] = PointerGetDatum(construct_array(d, h->nresults, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
			args[8] = PointerGetDatum(construct_md_array(s, snull, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
			args[9] = PointerGetDatum(construct_md_array(er, ernull, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
			args[10] = PointerGetDatum(construct_array(ms, h->nresults, INT4OID, 4, true, TYPALIGN_INT));
			memset(nulls, ' ', sizeof(nulls));
			(void) PtExecutePlan(insert, args, nulls, false, 0);
		}
		h->nresults = 0;
		h->maxresults = 0;
		h->results = NULL;
	}
}

/*
 * Load the webhooks that are due, each with its events after its cursor
 * (unless it still has some to send); *active is the number of active
 * webhooks, *next_due when the next retry falls due (0: none)
 */
static void
Load(int *active, TimestampTz *next_due)
{
	static SPIPlanPtr due = NULL;
	static SPIPlanPtr summary = NULL;
	HASH_SEQ_STATUS seq;
	Hook	   *h;
	uint64		i;
	SPITupleTable *tt;
	uint64		n;
	bool		isnull;

	if (due == NULL)
	{
		PtPreparePlan(&due,
					  "SELECT w.project_id, w.id, w.url, w.event_types, s.secret, w.last_delivered_event_id, w.attempts "
					  "FROM participants.webhook w JOIN participants.webhook_secret s "
					  "ON s.project_id = w.project_id AND s.webhook_id = w.id "
					  "WHERE w.active AND NOT w.failing AND w.next_attempt_date <= pg_catalog.clock_timestamp() "
					  "ORDER BY w.project_id, w.id", 0, NULL);
		PtPreparePlan(&summary,
					  "SELECT pg_catalog.count(*)::int4, pg_catalog.min(next_attempt_date) "
					  "FILTER (WHERE next_attempt_date > pg_catalog.clock_timestamp()) "
					  "FROM participants.webhook WHERE active AND NOT failing", 0, NULL);
	}

	hash_seq_init(&seq, hooks);
	while ((h = hash_seq_search(&seq)) != NULL)
		h->live = false;

	if (PtExecutePlan(due, NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the webhooks");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		HookKey		key;
		bool		found;
		char	   *url = SPI_getvalue(t, d, 3);
		char	   *secret = SPI_getvalue(t, d, 5);
		char	   *types_text = SPI_getvalue(t, d, 4);
		int64		cursor = DatumGetInt64(SPI_getbinval(t, d, 6, &isnull));
		Datum		types = SPI_getbinval(t, d, 4, &isnull);
		bool		types_null = isnull;

		memcpy(&key.project, DatumGetUUIDP(SPI_getbinval(t, d, 1, &isnull)), sizeof(pg_uuid_t));
		memcpy(&key.id, DatumGetUUIDP(SPI_getbinval(t, d, 2, &isnull)), sizeof(pg_uuid_t));
		h = hash_search(hooks, &key, HASH_ENTER, &found);
		if (!found)
		{
			memset(((char *) h) + sizeof(HookKey), 0, sizeof(Hook) - sizeof(HookKey));
			h->cxt = AllocSetContextCreate(worker_cxt, "participants webhook", ALLOCSET_SMALL_SIZES);
		}
		h->live = true;
		if (h->in_flight)
		{
			/*
			 * A new URL or secret applies from its next request; other types,
			 * or a cursor moved by replay_webhook, once this one is answered
			 * (its events are read again)
			 */
			if (strcmp(h->url, url) != 0 || strcmp(h->secret, secret) != 0)
			{
				MemoryContext old = MemoryContextSwitchTo(h->cxt);

				h->url = pstrdup(url);
				h->host = PtWebhookUrlHost(url);
				h->secret = pstrdup(secret);
				MemoryContextSwitchTo(old);
			}
			if ((types_text == NULL) != (h->types_text == NULL) ||
				(types_text != NULL && strcmp(types_text, h->types_text) != 0) ||
				cursor != h->db_cursor)
				h->stale = true;
			continue;
		}
		h->failed = false;
		h->attempts = DatumGetInt32(SPI_getbinval(t, d, 7, &isnull));
		/* still events to send, nothing changed: go on with them */
		if (found && !h->stale && h->next < h->nevents && h->db_cursor == cursor && h->cursor == cursor &&
			strcmp(h->url, url) == 0 && strcmp(h->secret, secret) == 0)
			continue;
		MemoryContextReset(h->cxt);
		h->stale = false;
		{
			MemoryContext old = MemoryContextSwitchTo(h->cxt);

			h->url = pstrdup(url);
			h->host = PtWebhookUrlHost(url);
			h->secret = pstrdup(secret);
			h->types_text = types_text ? pstrdup(types_text) : NULL;
			h->types = NULL;
			h->ntypes = 0;
			if (!types_null)
			{
				Datum	   *elems;
				bool	   *enulls;
				int			k;

				deconstruct_array(DatumGetArrayTypeP(types), TEXTOID, -1, false, TYPALIGN_INT,
								  &elems, &enulls, &h->ntypes);
				h->types = palloc(sizeof(char *) * (h->ntypes + 1));
				for (k = 0; k < h->ntypes; k++)
					h->types[k] = enulls[k] ? "" : TextDatumGetCString(elems[k]);
			}
			h->events = palloc(sizeof(Event) * EVENTS_PER_LOAD);
			MemoryContextSwitchTo(old);
		}
		h->db_cursor = h->cursor = cursor;
		h->nevents = h->next = 0;
		(void) PtReadEvents(&key.project, cursor, EVENTS_PER_LOAD, CollectEvent, h);
	}

	/* webhooks no longer due (paused, failing, deleted): forget them */
	hash_seq_init(&seq, hooks);
	while ((h = hash_seq_search(&seq)) != NULL)
		if (!h->live && !h->in_flight && !h->dirty)
			DropHook(h);

	if (PtExecutePlan(summary, NULL, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the webhooks");
	*active = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*next_due = 0;
	{
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
			*next_due = DatumGetTimestampTz(v);
	}
}

/*
 * One transaction: record what was attempted, load what is due. False when
 * the extension is gone.
 */
static bool
Tick(int *active, TimestampTz *next_due)
{
	bool		present;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* the extension, in a version with webhooks */
	present = OidIsValid(get_extension_oid("participants", true)) &&
		OidIsValid(get_relname_relid("webhook", get_namespace_oid("participants", true)));
	if (present)
	{
		Flush();
		Load(active, next_due);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextReset(results_cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return present;
}

/* Receive (and mostly discard) an answer, up to MAX_BODY bytes */
static size_t
BodySink(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Hook	   *h = userdata;
	size_t		n = size * nmemb;

	h->body_seen += n;
	if (h->body_seen > MAX_BODY)
	{
		h->body_cut = true;
		return 0;				/* ends the transfer */
	}
	return n;
}

/* Open a socket only to an address delivery may reach (checked after DNS) */
static curl_socket_t
OpenSocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	Hook	   *h = clientp;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!PtAddressAllowed(&address->addr, h->host, pt_webhook_allowed_hosts,
						  h->refused, sizeof(h->refused)))
		return CURL_SOCKET_BAD;
	return socket(address->family, address->socktype, address->protocol);
}

static void
AddResult(Hook *h, Event *e, int status, const char *error, int ms)
{
	MemoryContext old = MemoryContextSwitchTo(results_cxt);
	Attempt    *r;

	if (h->nresults == h->maxresults)
	{
		h->maxresults = h->maxresults ? h->maxresults * 2 : 64;
		h->results = h->results ? repalloc(h->results, sizeof(Attempt) * h->maxresults)
			: palloc(sizeof(Attempt) * h->maxresults);
	}
	r = &h->results[h->nresults++];
	r->event_id = e->id;
	r->type = pstrdup(e->type);
	r->attempt = h->attempts + 1;
	r->at = h->started;
	r->status = status;
	r->error = error ? pstrdup(error) : NULL;
	r->ms = ms;
	MemoryContextSwitchTo(old);
	h->dirty = true;
}

/* An attempt failed before it was sent, or was answered: where to go next */
static void Completed(Hook *h, Event *e, bool ok, int status, const char *error);

/*
 * Send the webhook's next event of its types (after moving its cursor
 * past those of other types); false when it has none
 */
static bool
StartRequest(Hook *h)
{
	Event	   *e;
	char		header[512];
	char		msg_id[80];
	char	   *signature;
	int64		ts = (int64) time(NULL);
	MemoryContext old;
	ResourceOwner save_owner;

	/* events of other types are passed over: the cursor moves, to be recorded */
	while (h->next < h->nevents && !h->events[h->next].match)
	{
		h->cursor = h->events[h->next++].id;
		h->dirty = true;
	}
	if (h->next >= h->nevents || h->failed || h->in_flight || h->stale || !h->live)
		return false;
	e = &h->events[h->next];
	h->started = GetCurrentTimestamp();

	if (h->host == NULL)
	{
		Completed(h, e, false, 0, "the URL cannot be parsed");
		return false;
	}
	if (h->easy == NULL)
	{
		h->easy = curl_easy_init();
		if (h->easy == NULL)
			elog(ERROR, "could not start an HTTP client");
		curl_easy_setopt(h->easy, CURLOPT_PRIVATE, h);
		curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h->easy, CURLOPT_PROXY, "");
		curl_easy_setopt(h->easy, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
		curl_easy_setopt(h->easy, CURLOPT_OPENSOCKETDATA, h);
		curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, BodySink);
		curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
		curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
		curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "participants-webhooks/0.4");
		curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
	}
	snprintf(msg_id, sizeof(msg_id), "msg_%s_" INT64_FORMAT, PtUuidText(&h->key.project), e->id);
	old = MemoryContextSwitchTo(scratch_cxt);
	save_owner = CurrentResourceOwner;
	CurrentResourceOwner = worker_owner;
	signature = PtWebhookSignature(h->secret, msg_id, ts, e->body, e->len);
	CurrentResourceOwner = save_owner;
	MemoryContextSwitchTo(old);
	if (signature == NULL)
	{
		MemoryContextReset(scratch_cxt);
		Completed(h, e, false, 0, "the secret is not whsec_ and base64: rotate it with rotate_webhook_secret");
		return false;
	}
	if (h->headers)
		curl_slist_free_all(h->headers);
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(header, sizeof(header), "webhook-id: %s", msg_id);
	h->headers = curl_slist_append(h->headers, header);
	snprintf(header, sizeof(header), "webhook-timestamp: " INT64_FORMAT, ts);
	h->headers = curl_slist_append(h->headers, header);
	snprintf(header, sizeof(header), "webhook-signature: %s", signature);
	h->headers = curl_slist_append(h->headers, header);
	h->headers = curl_slist_append(h->headers, "Expect:");
	MemoryContextReset(scratch_cxt);

	curl_easy_setopt(h->easy, CURLOPT_URL, h->url);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, e->body);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE, (long) e->len);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, pt_webhook_timeout * 1000L);
	h->errbuf[0] = '\0';
	h->refused[0] = '\0';
	h->body_seen = 0;
	h->body_cut = false;
	if (curl_multi_add_handle(multi, h->easy) != CURLM_OK)
	{
		Completed(h, e, false, 0, "could not start the request");
		return false;
	}
	h->in_flight = true;
	in_flight++;
	return true;
}

static void
Completed(Hook *h, Event *e, bool ok, int status, const char *error)
{
	long		ms = (long) ((GetCurrentTimestamp() - h->started) / 1000);

	AddResult(h, e, status, ok ? NULL : error, (int) Min(ms, INT_MAX));
	if (h->stale)
		return;					/* replayed meanwhile: the stored position stands */
	if (ok)
	{
		h->cursor = e->id;
		h->next++;
		h->attempts = 0;
	}
	else
	{
		h->attempts++;
		h->failed = true;
	}
}

/* A request is done: record it, and send the webhook's next event */
static void
Finished(Hook *h, CURLcode res)
{
	long		code = 0;
	Event	   *e = &h->events[h->next];
	bool		ok;
	char		error[512];

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(multi, h->easy);
	h->in_flight = false;
	in_flight--;
	ok = code >= 200 && code < 300 && (res == CURLE_OK || (res == CURLE_WRITE_ERROR && h->body_cut));
	if (ok)
		error[0] = '\0';
	else if (h->refused[0])
		strlcpy(error, h->refused, sizeof(error));
	else if (res == CURLE_OPERATION_TIMEDOUT)
		snprintf(error, sizeof(error), "no answer within %d s (participants.webhook_timeout)", pt_webhook_timeout);
	else if (res != CURLE_OK)
		snprintf(error, sizeof(error), "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(res));
	else if (code >= 300 && code < 400)
		snprintf(error, sizeof(error), "HTTP %ld: redirects are not followed", code);
	else
		snprintf(error, sizeof(error), "HTTP %ld", code);
	Completed(h, e, ok, (int) code, error);
	if (ok)
		(void) StartRequest(h);
}

/* Waits for a load: due, not sending, nothing left to send */
static bool
HookIdle(Hook *h)
{
	return !h->in_flight && !h->failed && h->next >= h->nevents;
}

/* Has attempts (or a cursor) to record */
static bool
HookDirty(Hook *h)
{
	return h->dirty;
}

/* Is there a webhook for which test holds? */
static bool
AnyHook(bool (*test) (Hook *h))
{
	HASH_SEQ_STATUS seq;
	Hook	   *h;

	hash_seq_init(&seq, hooks);
	while ((h = hash_seq_search(&seq)) != NULL)
		if (test(h))
		{
			hash_seq_term(&seq);
			return true;
		}
	return false;
}

/*
 * Drive the requests in flight until none is left, or attempts have waited
 * FLUSH_MS to be recorded, or a commit came for a webhook with nothing
 * left to send
 */
static void
Pump(void)
{
	TimestampTz since = GetCurrentTimestamp();

	for (;;)
	{
		int			running;
		int			left;
		CURLMsg    *m;

		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL)
		{
			Hook	   *h;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &h);
			Finished(h, m->data.result);
		}
		CHECK_FOR_INTERRUPTS();
		if (in_flight == 0)
			return;
		if (TimestampDifferenceExceeds(since, GetCurrentTimestamp(), FLUSH_MS) && AnyHook(HookDirty))
			return;
		if (my_slot->wanted && AnyHook(HookIdle))
			return;
		curl_multi_poll(multi, NULL, 0, 50, NULL);
	}
}

static void
StartAll(void)
{
	HASH_SEQ_STATUS seq;
	Hook	   *h;

	hash_seq_init(&seq, hooks);
	while ((h = hash_seq_search(&seq)) != NULL)
		if (h->live)
			(void) StartRequest(h);
}

void
participants_webhook_worker(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	TimestampTz idle_since;
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	in_delivery_worker = true;
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	my_slot = FindSlot(dboid, true);
	if (my_slot != NULL)
	{
		my_slot->pid = MyProcPid;
		my_slot->latch = MyLatch;
	}
	LWLockRelease(shared->lock);
	if (my_slot == NULL)
		proc_exit(0);
	on_shmem_exit(WorkerDetach, 0);

	/*
	 * Delivery is background work: when the machine's cores are short,
	 * writers come first (the worker catches up when they pause)
	 */
	if (setpriority(PRIO_PROCESS, 0, WORKER_NICE) != 0)
		elog(DEBUG1, "could not lower the delivery worker's priority: %m");
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "participants webhook delivery", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("participants webhook delivery");
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "participants webhook delivery", ALLOCSET_DEFAULT_SIZES);
	results_cxt = AllocSetContextCreate(worker_cxt, "participants webhook attempts", ALLOCSET_DEFAULT_SIZES);
	scratch_cxt = AllocSetContextCreate(worker_cxt, "participants webhook scratch", ALLOCSET_SMALL_SIZES);
	worker_owner = ResourceOwnerCreate(NULL, "participants webhook delivery");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (multi = curl_multi_init()) == NULL)
		elog(ERROR, "could not start libcurl");
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(HookKey);
	ctl.entrysize = sizeof(Hook);
	ctl.hcxt = worker_cxt;
	hooks = hash_create("participants webhooks", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		int			active = 0;
		TimestampTz next_due = 0;
		TimestampTz now;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		ResetLatch(MyLatch);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		my_slot->wanted = false;
		LWLockRelease(shared->lock);

		if (!Tick(&active, &next_due))
		{
			SetState(SLOT_NO_EXTENSION, 0);
			proc_exit(0);
		}
		SetState(active > 0 ? SLOT_ACTIVE : SLOT_IDLE, next_due);
		StartAll();
		if (in_flight > 0)
		{
			Pump();
			idle_since = GetCurrentTimestamp();
			continue;
		}
		if (AnyHook(HookDirty))
		{
			idle_since = GetCurrentTimestamp();
			continue;
		}

		/* nothing to send now: wait for a commit or the next retry, or stop */
		now = GetCurrentTimestamp();
		wait_ms = IDLE_EXIT_MS - (long) ((now - idle_since) / 1000);
		if (next_due != 0 && MsUntil(next_due, now) <= IDLE_EXIT_MS)
			wait_ms = Max(MsUntil(next_due, now), 1);
		else if (wait_ms <= 0)
		{
			bool		stop;

			LWLockAcquire(shared->lock, LW_EXCLUSIVE);
			stop = !my_slot->wanted;
			LWLockRelease(shared->lock);
			if (stop)
				proc_exit(0);	/* the launcher starts one when due or wanted */
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
	}
}

/* ------------------------------------------------------------------------
 * Settings, and the launcher's registration
 * ------------------------------------------------------------------------
 */

static bool
CheckAllowedHostsHook(char **newval, void **extra, GucSource source)
{
	char	   *problem;

	if (*newval != NULL && !PtCheckAllowedHosts(*newval, &problem))
	{
		GUC_check_errdetail("%s", problem);
		return false;
	}
	return true;
}

void
PtWebhookInit(void)
{
	BackgroundWorker w;

	DefineCustomIntVariable("participants.webhook_workers",
							"Delivery workers that may run at once (one per database).",
							"Each database with webhooks to serve gets its own worker while it has something to deliver; at most this many run at once, and each takes one of max_worker_processes.",
							&pt_webhook_workers,
							2, 1, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("participants.webhook_timeout",
							"Seconds a webhook's receiver has to answer a delivery.",
							"An attempt without a complete answer in this time fails and is retried. Read by the delivery workers: set it in postgresql.conf or with ALTER SYSTEM (and reload), or with ALTER DATABASE (applies when the database's worker next starts).",
							&pt_webhook_timeout,
							10, 1, 300,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("participants.webhook_max_attempts",
							"Failed attempts in a row after which a webhook is failing and pauses.",
							"Retries wait 5 s, 30 s, 2 min, 10 min, 1 h, then doubling up to 8 h. A failing webhook resumes with update_webhook(..., active => true) or replay_webhook.",
							&pt_webhook_max_attempts,
							8, 1, 100,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("participants.webhook_allowed_hosts",
							   "Host names, addresses and CIDR ranges webhooks may reach although they are not public.",
							   "Comma-separated. By default delivery refuses loopback, private, link-local, multicast, reserved and unspecified addresses (IPv4 and IPv6, checked on the address connected to, after DNS resolution). Only superusers can set it.",
							   &pt_webhook_allowed_hosts,
							   "",
							   PGC_SUSET, 0,
							   CheckAllowedHostsHook, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	pt_webhooks_preloaded = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ShmemStartup;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "participants");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "participants_webhook_launcher");
	snprintf(w.bgw_name, BGW_MAXLEN, "participants webhook launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "participants webhook launcher");
	RegisterBackgroundWorker(&w);
}
