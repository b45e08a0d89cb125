// A key-less Cyclone DDS sertype whose samples are raw serialized
// payloads: the 4-byte encapsulation header followed by the XCDR1 body.
// Cyclone moves the bytes; Go encodes and decodes them (package msg).
#ifndef POLICYLAB_RAWCDR_H
#define POLICYLAB_RAWCDR_H

#include <stdint.h>
#include "dds/dds.h"

// plraw_sample is what dds_write takes: size bytes at data, header
// included.
typedef struct plraw_sample {
  uint32_t size;
  unsigned char *data;
} plraw_sample;

// plraw_new_sertype returns a fresh sertype for the DDS type name (e.g.
// "std_msgs::msg::dds_::String_"); dds_create_topic_sertype takes it over.
struct ddsi_sertype *plraw_new_sertype(const char *type_name);

// plraw_drop_sertype frees a sertype that no topic took over.
void plraw_drop_sertype(struct ddsi_sertype *tp);

// plraw_create_topic wraps dds_create_topic_sertype; on failure the
// sertype is freed.
dds_entity_t plraw_create_topic(dds_entity_t participant, const char *name, const char *type_name, const dds_qos_t *qos);

// plraw_write publishes size bytes (header included) on writer.
dds_return_t plraw_write(dds_entity_t writer, const unsigned char *data, uint32_t size);

// plraw_take takes at most one sample from reader. It returns 1 with
// *out pointing at a malloc'ed copy of the payload (free with plraw_free)
// and its size, 0 when the reader holds no valid sample, or a negative
// DDS return code. *valid is 0 for a sample without data (e.g. a
// writer's disposal), whose payload is not returned.
int plraw_take(dds_entity_t reader, unsigned char **out, uint32_t *size, int64_t *source_ts, int *valid);

void plraw_free(void *p);

#endif
