/*
 * inode.c - the node table: fuse_ino_t <-> (array, docno).
 *
 * A node exists while the kernel holds lookups on it (nlookup, per the
 * forget rules in fuse_lowlevel.h), while an open handle uses it (held),
 * or while it is a pending document (kept until committed or unlinked).
 * Nodes are found by (array, docno) in a chained hash table; fuse_ino_t is
 * the node's address. One table mutex protects the chains, nlookup, holds
 * and the pending flag's membership; node->lock protects node contents.
 * Lock order: table lock before node lock.
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE 65536

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arfs_node *table[TABLE_SIZE];
static uint64_t pending_docno = ARFS_PENDING_DOCNO_BASE;

struct arfs_fs arfs_fs;

static size_t slot(const void *owner, uint64_t docno)
{
	uint64_t h = (uint64_t)(uintptr_t)owner * 0x9E3779B97F4A7C15u ^ docno;

	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9u;
	return (size_t)(h >> 40) % TABLE_SIZE;
}

void arfs_inode_init(void)
{
	arfs_fs.root.kind = ARFS_NODE_ROOT;
	pthread_mutex_init(&arfs_fs.root.lock, NULL);
}

static void node_free(struct arfs_node *n)
{
	if (n->wbuf)
		arfs_bufpool_unpin(arfs_fs.pool, n->wbuf);
	arfs_docref_release(&n->gone);
	pthread_mutex_destroy(&n->lock);
	free(n->name);
	free(n);
}

void arfs_inode_shutdown(void)
{
	for (size_t i = 0; i < TABLE_SIZE; i++) {
		struct arfs_node *n = table[i], *next;
		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
		table[i] = NULL;
	}
}

struct arfs_node *arfs_inode_get(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &arfs_fs.root;
	return (struct arfs_node *)(uintptr_t)ino;
}

fuse_ino_t arfs_inode_id(struct arfs_node *n)
{
	return n == &arfs_fs.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

uint64_t arfs_node_st_ino(const struct arfs_node *n)
{
	switch (n->kind) {
	case ARFS_NODE_ROOT:
		return 1;
	case ARFS_NODE_ARRAY:
		return (uint64_t)n->arr->number << ARFS_INO_SHIFT;
	case ARFS_NODE_GROUP:
	case ARFS_NODE_COLUMN:
	case ARFS_NODE_BLOCK:
	case ARFS_NODE_VGROUP:
	case ARFS_NODE_VFILE:
		return (uint64_t)n->grp->number << ARFS_INO_SHIFT | n->docno;
	case ARFS_NODE_SET:
		return (uint64_t)n->set->number << ARFS_INO_SHIFT;
	case ARFS_NODE_VROOT:
		return 2;
	case ARFS_NODE_VSET:
		return n->docno;	/* the set's number << 42 | 2^41 */
	case ARFS_NODE_DOC:
		break;
	}
	return (uint64_t)n->arr->number << ARFS_INO_SHIFT |
	       (n->docno & ((UINT64_C(1) << ARFS_INO_SHIFT) - 1));
}

static const void *owner_of(const struct arfs_node *n)
{
	if (n->arr)
		return n->arr;
	return n->grp ? (const void *)n->grp : (const void *)n->set;
}

static struct arfs_node *find_locked(const void *owner, uint64_t docno)
{
	struct arfs_node *n;

	for (n = table[slot(owner, docno)]; n; n = n->hnext)
		if (owner_of(n) == owner && n->docno == docno)
			return n;
	return NULL;
}

struct arfs_node *arfs_inode_find(struct arfs_store_array *arr,
				  uint64_t docno)
{
	struct arfs_node *n;

	pthread_mutex_lock(&table_lock);
	n = find_locked(arr, docno);
	pthread_mutex_unlock(&table_lock);
	return n;
}

static struct arfs_node *ref_locked(enum arfs_node_kind kind,
				    struct arfs_store_array *arr,
				    struct arfs_store_group *grp,
				    struct arfs_store_set *set, uint64_t docno)
{
	const void *owner = arr ? (const void *)arr :
			    grp ? (const void *)grp : (const void *)set;
	struct arfs_node *n = find_locked(owner, docno);
	size_t s = slot(owner, docno);

	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return NULL;
		n->kind = kind;
		n->arr = arr;
		n->grp = grp;
		n->set = set;
		n->docno = docno;
		pthread_mutex_init(&n->lock, NULL);
		n->hnext = table[s];
		table[s] = n;
	}
	n->nlookup++;
	return n;
}

struct arfs_node *arfs_inode_ref_grp(enum arfs_node_kind kind,
				     struct arfs_store_group *grp, uint64_t key)
{
	struct arfs_node *n;

	pthread_mutex_lock(&table_lock);
	n = ref_locked(kind, NULL, grp, NULL, key);
	pthread_mutex_unlock(&table_lock);
	return n;
}

struct arfs_node *arfs_inode_ref_set(struct arfs_store_set *set)
{
	struct arfs_node *n;

	pthread_mutex_lock(&table_lock);
	n = ref_locked(ARFS_NODE_SET, NULL, NULL, set, 0);
	pthread_mutex_unlock(&table_lock);
	return n;
}

struct arfs_node *arfs_inode_ref(enum arfs_node_kind kind,
				 struct arfs_store_array *arr, uint64_t docno,
				 const char *name)
{
	struct arfs_node *n;

	pthread_mutex_lock(&table_lock);
	n = ref_locked(kind, arr, NULL, NULL, docno);
	if (n && name) {
		pthread_mutex_lock(&n->lock);
		n->unlinked = false; /* found again under this name */
		if (!n->name || strcmp(n->name, name)) {
			char *copy = strdup(name);
			if (copy) {
				free(n->name);
				n->name = copy;
			}
		}
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&table_lock);
	return n;
}

static void unlink_locked(struct arfs_node *node)
{
	struct arfs_node **pp = &table[slot(owner_of(node), node->docno)];

	while (*pp && *pp != node)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = node->hnext;
}

/* Free the node if nothing refers to it. Caller holds table lock. */
static void maybe_free_locked(struct arfs_node *node)
{
	bool keep;

	pthread_mutex_lock(&node->lock);
	keep = node->nlookup || node->opens || node->pending;
	pthread_mutex_unlock(&node->lock);
	if (keep)
		return;
	unlink_locked(node);
	node_free(node);
}

void arfs_inode_forget(struct arfs_node *node, uint64_t n)
{
	if (node == &arfs_fs.root)
		return;
	pthread_mutex_lock(&table_lock);
	node->nlookup = node->nlookup > n ? node->nlookup - n : 0;
	maybe_free_locked(node);
	pthread_mutex_unlock(&table_lock);
}

void arfs_inode_hold(struct arfs_node *node)
{
	pthread_mutex_lock(&table_lock);
	pthread_mutex_lock(&node->lock);
	node->opens++;
	pthread_mutex_unlock(&node->lock);
	pthread_mutex_unlock(&table_lock);
}

void arfs_inode_unhold(struct arfs_node *node)
{
	pthread_mutex_lock(&table_lock);
	pthread_mutex_lock(&node->lock);
	node->opens--;
	pthread_mutex_unlock(&node->lock);
	if (node != &arfs_fs.root)
		maybe_free_locked(node);
	pthread_mutex_unlock(&table_lock);
}

void arfs_inode_rekey(struct arfs_node *node, uint64_t docno)
{
	pthread_mutex_lock(&table_lock);
	unlink_locked(node);
	node->docno = docno;
	node->hnext = table[slot(owner_of(node), docno)];
	table[slot(owner_of(node), docno)] = node;
	pthread_mutex_unlock(&table_lock);
}

uint64_t arfs_inode_next_pending_docno(void)
{
	uint64_t d;

	pthread_mutex_lock(&table_lock);
	d = pending_docno++;
	pthread_mutex_unlock(&table_lock);
	return d;
}

/*
 * Pending documents are few (files being written under names that do not
 * fit yet): a small vector under the table lock lists them.
 */
static struct arfs_node **pending_v;
static size_t pending_n, pending_cap;

int arfs_inode_set_pending(struct arfs_node *node, bool pending)
{
	struct arfs_node **nv;
	int rc = 0;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < pending_n; i++)
		if (pending_v[i] == node) {
			pending_v[i] = pending_v[--pending_n];
			break;
		}
	if (pending && pending_n == pending_cap) {
		nv = realloc(pending_v, (pending_cap * 2 + 8) * sizeof(*nv));
		if (nv) {
			pending_v = nv;
			pending_cap = pending_cap * 2 + 8;
		} else {
			rc = -ENOMEM;
		}
	}
	if (pending && !rc)
		pending_v[pending_n++] = node;
	pthread_mutex_lock(&node->lock);
	node->pending = pending && !rc;
	pthread_mutex_unlock(&node->lock);
	if (!pending)
		maybe_free_locked(node);
	pthread_mutex_unlock(&table_lock);
	return rc;
}

void arfs_inode_pending_each(struct arfs_store_array *arr,
			     void (*fn)(void *ctx, struct arfs_node *n),
			     void *ctx)
{
	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < pending_n; i++)
		if (pending_v[i]->arr == arr)
			fn(ctx, pending_v[i]);
	pthread_mutex_unlock(&table_lock);
}

struct arfs_node *arfs_inode_pending(struct arfs_store_array *arr,
				     const char *name)
{
	struct arfs_node *found = NULL;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < pending_n && !found; i++) {
		struct arfs_node *n = pending_v[i];
		pthread_mutex_lock(&n->lock);
		if (n->arr == arr && n->name && !strcmp(n->name, name))
			found = n;
		pthread_mutex_unlock(&n->lock);
	}
	if (found)
		found->nlookup++;
	pthread_mutex_unlock(&table_lock);
	return found;
}
