/*
 * participant/write_lock.c
 *		The project's participant write lock: every write of a participant
 *		row (API function or raw SQL, through participant_segments_sync)
 *		takes it in share mode before it locks a row or evaluates dynamic
 *		filters, and holds it to the end of its transaction; a dynamic
 *		segment's rebuild waits for its holders and takes it in exclusive
 *		mode for its last step (segment/rebuild.c). First in the lock order
 *		of doc/concurrency.md.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/inval.h"

#include "participant/participant.h"

static Oid	participant_relid = InvalidOid;

/* How many times this backend newly took the lock (see PtParticipantWriteLockGeneration) */
static uint64 generation = 0;

static void
WriteLockReset(Oid relid)
{
	if (relid == InvalidOid || relid == participant_relid)
		participant_relid = InvalidOid;
}

/*
 * The lock's tag: a heavyweight lock on (participant table, hash of the
 * project id, 4). Another project whose id hashes alike only waits
 * needlessly.
 */
static void
WriteLockTag(LOCKTAG *tag, pg_uuid_t *project_id)
{
	if (!OidIsValid(participant_relid))
	{
		PtCacheRegister(WriteLockReset);
		participant_relid = PtParticipantRelid();
	}
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, participant_relid,
					   hash_bytes(project_id->data, UUID_LEN), 4);
}

/*
 * Take the lock: ShareLock before any participant row is locked,
 * ExclusiveLock by a rebuild's last step and by deleting a dynamic segment.
 * Then accept invalidations: a filter change that committed while this
 * waited is loaded by the caller.
 */
void
PtLockParticipantWrites(pg_uuid_t *project_id, LOCKMODE mode)
{
	LOCKTAG		tag;

	WriteLockTag(&tag, project_id);
	if (LockAcquire(&tag, mode, false, false) == LOCKACQUIRE_OK)
		generation++;
	AcceptInvalidationMessages();
}

/*
 * A number that changes whenever this backend newly takes the lock: what a
 * writer learned while it held the lock (no rebuild in progress, say) stays
 * true while the generation stays the same
 */
uint64
PtParticipantWriteLockGeneration(void)
{
	return generation;
}

/*
 * Wait for the transactions that hold the lock now (the participant writes
 * in flight), without making later ones wait, as CREATE INDEX CONCURRENTLY
 * waits for the writers of its table
 */
void
PtWaitForParticipantWriters(pg_uuid_t *project_id)
{
	LOCKTAG		tag;

	WriteLockTag(&tag, project_id);
	WaitForLockers(tag, ExclusiveLock, false);
}
