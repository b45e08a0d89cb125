// Raw-payload sertype for Eclipse Cyclone DDS 0.10 (see rawcdr.h).
//
// Cyclone hands a sertype's serdata operations the serialized payload as
// it travels on the wire: the 4-byte encapsulation header (for ROS 2,
// CDR_LE = 00 01 and two option bytes) followed by the body. This sertype
// keeps those bytes as they are, so every message is encoded and decoded
// in Go. Topics are key-less, as ROS 2's are: every sample belongs to the
// one instance, all serdata share one hash and compare equal as keys.
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "dds/dds.h"
#include "dds/ddsi/ddsi_sertype.h"
#include "dds/ddsi/ddsi_serdata.h"
#include "dds/ddsi/q_radmin.h"

#include "rawcdr.h"

struct plraw_serdata {
  struct ddsi_serdata c;
  uint32_t size;
  unsigned char data[];
};

static const unsigned char key_payload[4] = {0x00, 0x01, 0x00, 0x00};

static struct plraw_serdata *new_serdata(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, size_t size) {
  if (size > UINT32_MAX) return NULL;
  struct plraw_serdata *d = malloc(sizeof(*d) + size);
  if (d == NULL) return NULL;
  ddsi_serdata_init(&d->c, type, kind);
  d->c.hash = type->serdata_basehash;
  d->size = (uint32_t)size;
  return d;
}

// A key serdata of a key-less topic carries no key: an empty CDR_LE payload.
static struct ddsi_serdata *new_key(const struct ddsi_sertype *type) {
  struct plraw_serdata *d = new_serdata(type, SDK_KEY, sizeof(key_payload));
  if (d == NULL) return NULL;
  memcpy(d->data, key_payload, sizeof(key_payload));
  return &d->c;
}

static bool sd_eqkey(const struct ddsi_serdata *a, const struct ddsi_serdata *b) {
  (void)a; (void)b;
  return true;
}

static uint32_t sd_get_size(const struct ddsi_serdata *d) {
  return ((const struct plraw_serdata *)d)->size;
}

// from_ser copies a received sample out of its chain of fragments. Each
// fragment covers bytes [min, maxp1) of the payload; fragments may
// overlap, so only the part past what is already copied is taken.
static struct ddsi_serdata *sd_from_ser(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, const struct nn_rdata *fragchain, size_t size) {
  if (kind == SDK_KEY) return new_key(type);
  struct plraw_serdata *d = new_serdata(type, kind, size);
  if (d == NULL) return NULL;
  uint32_t done = 0;
  for (const struct nn_rdata *f = fragchain; f != NULL && done < size; f = f->nextfrag) {
    if (f->min > done) break; // a hole: cannot happen for a complete sample
    if (f->maxp1 <= done) continue;
    uint32_t end = f->maxp1 < size ? f->maxp1 : (uint32_t)size;
    const unsigned char *src = NN_RMSG_PAYLOADOFF(f->rmsg, NN_RDATA_PAYLOAD_OFF(f));
    memcpy(d->data + done, src + (done - f->min), end - done);
    done = end;
  }
  if (done != size) {
    free(d);
    return NULL;
  }
  return &d->c;
}

static struct ddsi_serdata *sd_from_ser_iov(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, ddsrt_msg_iovlen_t niov, const ddsrt_iovec_t *iov, size_t size) {
  if (kind == SDK_KEY) return new_key(type);
  struct plraw_serdata *d = new_serdata(type, kind, size);
  if (d == NULL) return NULL;
  size_t done = 0;
  for (ddsrt_msg_iovlen_t i = 0; i < niov && done < size; i++) {
    size_t n = iov[i].iov_len;
    if (n > size - done) n = size - done;
    memcpy(d->data + done, iov[i].iov_base, n);
    done += n;
  }
  if (done != size) {
    free(d);
    return NULL;
  }
  return &d->c;
}

static struct ddsi_serdata *sd_from_keyhash(const struct ddsi_sertype *type, const struct ddsi_keyhash *keyhash) {
  (void)keyhash;
  return new_key(type);
}

static struct ddsi_serdata *sd_from_sample(const struct ddsi_sertype *type, enum ddsi_serdata_kind kind, const void *sample) {
  if (kind == SDK_KEY) return new_key(type);
  const plraw_sample *s = sample;
  struct plraw_serdata *d = new_serdata(type, kind, s->size);
  if (d == NULL) return NULL;
  if (s->size > 0) memcpy(d->data, s->data, s->size);
  return &d->c;
}

static void sd_to_ser(const struct ddsi_serdata *d, size_t off, size_t sz, void *buf) {
  const struct plraw_serdata *r = (const struct plraw_serdata *)d;
  memcpy(buf, r->data + off, sz);
}

static struct ddsi_serdata *sd_to_ser_ref(const struct ddsi_serdata *d, size_t off, size_t sz, ddsrt_iovec_t *ref) {
  const struct plraw_serdata *r = (const struct plraw_serdata *)d;
  ref->iov_base = (void *)(r->data + off);
  ref->iov_len = (ddsrt_iov_len_t)sz;
  return ddsi_serdata_ref(d);
}

static void sd_to_ser_unref(struct ddsi_serdata *d, const ddsrt_iovec_t *ref) {
  (void)ref;
  ddsi_serdata_unref(d);
}

static bool sd_to_sample(const struct ddsi_serdata *d, void *sample, void **bufptr, void *buflim) {
  (void)buflim;
  if (bufptr != NULL) return false; // loaned sample memory: not supported
  const struct plraw_serdata *r = (const struct plraw_serdata *)d;
  plraw_sample *s = sample;
  unsigned char *p = realloc(s->data, r->size > 0 ? r->size : 1);
  if (p == NULL) return false;
  memcpy(p, r->data, r->size);
  s->data = p;
  s->size = r->size;
  return true;
}

static struct ddsi_serdata *sd_to_untyped(const struct ddsi_serdata *d) {
  struct ddsi_serdata *k = new_key(d->type);
  if (k == NULL) return NULL;
  k->type = NULL;
  return k;
}

static bool sd_untyped_to_sample(const struct ddsi_sertype *type, const struct ddsi_serdata *d, void *sample, void **bufptr, void *buflim) {
  (void)type; (void)d; (void)buflim;
  if (bufptr != NULL) return false;
  plraw_sample *s = sample;
  s->size = 0; // a key-less topic's key is empty
  return true;
}

static void sd_free(struct ddsi_serdata *d) { free(d); }

static size_t sd_print(const struct ddsi_sertype *type, const struct ddsi_serdata *d, char *buf, size_t size) {
  (void)type;
  return (size_t)snprintf(buf, size, "(raw CDR, %u bytes)", ((const struct plraw_serdata *)d)->size);
}

static void sd_get_keyhash(const struct ddsi_serdata *d, struct ddsi_keyhash *buf, bool force_md5) {
  (void)d; (void)force_md5;
  memset(buf->value, 0, sizeof(buf->value));
}

static const struct ddsi_serdata_ops plraw_serdata_ops = {
  .eqkey = sd_eqkey,
  .get_size = sd_get_size,
  .from_ser = sd_from_ser,
  .from_ser_iov = sd_from_ser_iov,
  .from_keyhash = sd_from_keyhash,
  .from_sample = sd_from_sample,
  .to_ser = sd_to_ser,
  .to_ser_ref = sd_to_ser_ref,
  .to_ser_unref = sd_to_ser_unref,
  .to_sample = sd_to_sample,
  .to_untyped = sd_to_untyped,
  .untyped_to_sample = sd_untyped_to_sample,
  .free = sd_free,
  .print = sd_print,
  .get_keyhash = sd_get_keyhash,
  // Shared-memory (iceoryx) hooks stay NULL: PolicyLab never enables SHM.
};

static void st_free(struct ddsi_sertype *tp) {
  ddsi_sertype_fini(tp);
  free(tp);
}

static void st_zero_samples(const struct ddsi_sertype *d, void *samples, size_t count) {
  (void)d;
  memset(samples, 0, count * sizeof(plraw_sample));
}

static void st_realloc_samples(void **ptrs, const struct ddsi_sertype *d, void *old, size_t oldcount, size_t count) {
  (void)d;
  plraw_sample *s = realloc(old, count * sizeof(plraw_sample));
  if (s == NULL) return;
  if (count > oldcount) memset(s + oldcount, 0, (count - oldcount) * sizeof(plraw_sample));
  for (size_t i = 0; i < count; i++) ptrs[i] = &s[i];
}

static void st_free_samples(const struct ddsi_sertype *d, void **ptrs, size_t count, dds_free_op_t op) {
  (void)d;
  if (count == 0) return;
  if (op & DDS_FREE_CONTENTS_BIT) {
    for (size_t i = 0; i < count; i++) {
      plraw_sample *s = ptrs[i];
      free(s->data);
      s->data = NULL;
      s->size = 0;
    }
  }
  if (op & DDS_FREE_ALL_BIT) free(ptrs[0]);
}

static bool st_equal(const struct ddsi_sertype *a, const struct ddsi_sertype *b) {
  (void)a; (void)b;
  return true; // names, ops and key-kind were already compared by Cyclone
}

static uint32_t st_hash(const struct ddsi_sertype *tp) {
  (void)tp;
  return 0x5052u; // everything that distinguishes our sertypes is in the name
}

static size_t st_get_serialized_size(const struct ddsi_sertype *d, const void *sample) {
  (void)d;
  return ((const plraw_sample *)sample)->size;
}

static bool st_serialize_into(const struct ddsi_sertype *d, const void *sample, void *dst, size_t dst_size) {
  (void)d;
  const plraw_sample *s = sample;
  if (dst_size < s->size) return false;
  memcpy(dst, s->data, s->size);
  return true;
}

static const struct ddsi_sertype_ops plraw_sertype_ops = {
  .version = ddsi_sertype_v0,
  .arg = NULL,
  .free = st_free,
  .zero_samples = st_zero_samples,
  .realloc_samples = st_realloc_samples,
  .free_samples = st_free_samples,
  .equal = st_equal,
  .hash = st_hash,
  .type_id = NULL,   // no XTypes type information: peers match on the type name
  .type_map = NULL,
  .type_info = NULL,
  .derive_sertype = NULL,
  .get_serialized_size = st_get_serialized_size,
  .serialize_into = st_serialize_into,
};

struct ddsi_sertype *plraw_new_sertype(const char *type_name) {
  struct ddsi_sertype *tp = calloc(1, sizeof(*tp));
  if (tp == NULL) return NULL;
  ddsi_sertype_init(tp, type_name, &plraw_sertype_ops, &plraw_serdata_ops, true);
  // XCDR1 only, as ROS 2 Humble and Jazzy write it.
  tp->allowed_data_representation = DDS_DATA_REPRESENTATION_FLAG_XCDR1;
  return tp;
}

void plraw_drop_sertype(struct ddsi_sertype *tp) { st_free(tp); }

dds_entity_t plraw_create_topic(dds_entity_t participant, const char *name, const char *type_name, const dds_qos_t *qos) {
  struct ddsi_sertype *st = plraw_new_sertype(type_name);
  if (st == NULL) return DDS_RETCODE_OUT_OF_RESOURCES;
  struct ddsi_sertype *arg = st;
  dds_entity_t tp = dds_create_topic_sertype(participant, name, &arg, qos, NULL, NULL);
  if (tp < 0) plraw_drop_sertype(st);
  return tp;
}

dds_return_t plraw_write(dds_entity_t writer, const unsigned char *data, uint32_t size) {
  plraw_sample s = {.size = size, .data = (unsigned char *)data};
  return dds_write(writer, &s);
}

int plraw_take(dds_entity_t reader, unsigned char **out, uint32_t *size, int64_t *source_ts, int *valid) {
  struct ddsi_serdata *sd = NULL;
  dds_sample_info_t si;
  *out = NULL;
  *size = 0;
  *valid = 0;
  dds_return_t n = dds_takecdr(reader, &sd, 1, &si, DDS_ANY_STATE);
  if (n <= 0) return (int)n;
  *source_ts = si.source_timestamp;
  if (si.valid_data) {
    uint32_t sz = ddsi_serdata_size(sd);
    unsigned char *p = malloc(sz > 0 ? sz : 1);
    if (p == NULL) {
      ddsi_serdata_unref(sd);
      return DDS_RETCODE_OUT_OF_RESOURCES;
    }
    ddsi_serdata_to_ser(sd, 0, sz, p);
    *out = p;
    *size = sz;
    *valid = 1;
  }
  ddsi_serdata_unref(sd);
  return 1;
}

void plraw_free(void *p) { free(p); }
