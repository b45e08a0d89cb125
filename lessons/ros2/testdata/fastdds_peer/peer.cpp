// peer.cpp: a small eProsima Fast DDS (2.x) participant configured the way
// ROS 2's rmw_fastrtps configures its endpoints, used to check that the Go
// ROS 2 layer (Cyclone DDS underneath, its own CDR codec on top) interoperates
// with an independent DDS + CDR implementation.
//
// The message types are hand-written TopicDataType subclasses serialized with
// eprosima::fastcdr (no fastddsgen code, no XTypes type information on the
// wire), using the ROS 2 DDS type names and "rt/" topic prefix.
//
// Build:  g++ -std=c++17 -O1 -ffp-contract=off peer.cpp -o peer -lfastrtps -lfastcdr
//
// Usage:
//   peer pub-jointstate  [-domain N] [-count K] [-period-ms P] [-match-timeout-s T]
//   peer sub-jointstate  [-domain N] [-count K] [-timeout-s T]
//   peer pub-trajectory  [-domain N] [-count K] [-period-ms P] [-match-timeout-s T]
//   peer sub-trajectory  [-domain N] [-count K] [-timeout-s T]
//   common: [-initial-peer IP]... [-loopback] [-v] [-hex]
//
// Exit codes: 0 ok, 1 usage/setup error, 2 timeout (no match / no sample).

#include <fastcdr/Cdr.h>
#include <fastcdr/FastBuffer.h>
#include <fastcdr/exceptions/Exception.h>

#include <fastdds/dds/core/status/PublicationMatchedStatus.hpp>
#include <fastdds/dds/core/status/SubscriptionMatchedStatus.hpp>
#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/domain/DomainParticipantListener.hpp>
#include <fastdds/dds/domain/qos/DomainParticipantQos.hpp>
#include <fastdds/dds/publisher/DataWriter.hpp>
#include <fastdds/dds/publisher/Publisher.hpp>
#include <fastdds/dds/publisher/qos/DataWriterQos.hpp>
#include <fastdds/dds/subscriber/DataReader.hpp>
#include <fastdds/dds/subscriber/SampleInfo.hpp>
#include <fastdds/dds/subscriber/Subscriber.hpp>
#include <fastdds/dds/subscriber/qos/DataReaderQos.hpp>
#include <fastdds/dds/topic/Topic.hpp>
#include <fastdds/dds/topic/TopicDataType.hpp>
#include <fastdds/dds/topic/TypeSupport.hpp>
#include <fastdds/rtps/common/Locator.h>
#include <fastdds/rtps/common/SerializedPayload.h>
#include <fastdds/rtps/transport/UDPv4TransportDescriptor.h>
#include <fastrtps/utils/IPLocator.h>

#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fdds = eprosima::fastdds::dds;
namespace frtps = eprosima::fastrtps::rtps;
using eprosima::fastcdr::Cdr;
using eprosima::fastcdr::FastBuffer;

// ---------------------------------------------------------------------------
// Message structs, field order as in the ROS 2 .msg files.

struct Time {  // builtin_interfaces/Time and builtin_interfaces/Duration
    int32_t sec = 0;
    uint32_t nanosec = 0;
};

struct Header {  // std_msgs/Header
    Time stamp;
    std::string frame_id;
};

struct JointState {  // sensor_msgs/JointState
    Header header;
    std::vector<std::string> name;
    std::vector<double> position;
    std::vector<double> velocity;
    std::vector<double> effort;
};

struct JointTrajectoryPoint {  // trajectory_msgs/JointTrajectoryPoint
    std::vector<double> positions;
    std::vector<double> velocities;
    std::vector<double> accelerations;
    std::vector<double> effort;
    Time time_from_start;
};

struct JointTrajectory {  // trajectory_msgs/JointTrajectory
    Header header;
    std::vector<std::string> joint_names;
    std::vector<JointTrajectoryPoint> points;
};

// ---------------------------------------------------------------------------
// CDR (XCDR1, "DDS CDR") encoding with Fast CDR. Sequences are written
// element by element after an explicit uint32 length, so the layout does not
// depend on Fast CDR's container overloads.

static void put_time(Cdr& c, const Time& t) {
    c << t.sec;
    c << t.nanosec;
}

static void put_header(Cdr& c, const Header& h) {
    put_time(c, h.stamp);
    c << h.frame_id;
}

static void put_strings(Cdr& c, const std::vector<std::string>& v) {
    c << static_cast<uint32_t>(v.size());
    for (const auto& s : v) {
        c << s;
    }
}

static void put_doubles(Cdr& c, const std::vector<double>& v) {
    c << static_cast<uint32_t>(v.size());
    for (double d : v) {
        c << d;
    }
}

static void put_msg(Cdr& c, const JointState& m) {
    put_header(c, m.header);
    put_strings(c, m.name);
    put_doubles(c, m.position);
    put_doubles(c, m.velocity);
    put_doubles(c, m.effort);
}

static void put_point(Cdr& c, const JointTrajectoryPoint& p) {
    put_doubles(c, p.positions);
    put_doubles(c, p.velocities);
    put_doubles(c, p.accelerations);
    put_doubles(c, p.effort);
    put_time(c, p.time_from_start);
}

static void put_msg(Cdr& c, const JointTrajectory& m) {
    put_header(c, m.header);
    put_strings(c, m.joint_names);
    c << static_cast<uint32_t>(m.points.size());
    for (const auto& p : m.points) {
        put_point(c, p);
    }
}

// Decoding. `limit` is the payload length; sequence lengths are checked
// against the bytes left so a corrupt length cannot trigger a huge allocation.
struct Reader {
    Cdr& c;
    size_t limit;

    size_t left() const {
        size_t used = c.getSerializedDataLength();
        return used >= limit ? 0 : limit - used;
    }

    uint32_t seq_len(size_t min_elem_size) {
        uint32_t n = 0;
        c >> n;
        if (static_cast<uint64_t>(n) * min_elem_size > left()) {
            throw std::runtime_error("sequence length " + std::to_string(n) + " exceeds payload");
        }
        return n;
    }

    void time(Time& t) {
        c >> t.sec;
        c >> t.nanosec;
    }

    void header(Header& h) {
        time(h.stamp);
        c >> h.frame_id;
    }

    void strings(std::vector<std::string>& v) {
        uint32_t n = seq_len(4);
        v.clear();
        v.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
            std::string s;
            c >> s;
            v.push_back(std::move(s));
        }
    }

    void doubles(std::vector<double>& v) {
        uint32_t n = seq_len(8);
        v.assign(n, 0.0);
        for (uint32_t i = 0; i < n; ++i) {
            c >> v[i];
        }
    }

    void msg(JointState& m) {
        header(m.header);
        strings(m.name);
        doubles(m.position);
        doubles(m.velocity);
        doubles(m.effort);
    }

    void point(JointTrajectoryPoint& p) {
        doubles(p.positions);
        doubles(p.velocities);
        doubles(p.accelerations);
        doubles(p.effort);
        time(p.time_from_start);
    }

    void msg(JointTrajectory& m) {
        header(m.header);
        strings(m.joint_names);
        uint32_t n = seq_len(4 * 4 + 8);
        m.points.assign(n, JointTrajectoryPoint{});
        for (uint32_t i = 0; i < n; ++i) {
            point(m.points[i]);
        }
    }
};

// Size computation mirroring XCDR1 alignment (offsets relative to the end of
// the 4-byte encapsulation header). Used for the serialized size provider.
struct Sizer {
    size_t pos = 0;

    void align(size_t a) { pos = (pos + a - 1) / a * a; }
    void prim(size_t n) { align(n); pos += n; }
    void str(const std::string& s) { prim(4); pos += s.size() + 1; }
    void time() { prim(4); prim(4); }
    void header(const Header& h) { time(); str(h.frame_id); }
    void strings(const std::vector<std::string>& v) {
        prim(4);
        for (const auto& s : v) str(s);
    }
    void doubles(const std::vector<double>& v) {
        prim(4);
        if (!v.empty()) {
            align(8);
            pos += 8 * v.size();
        }
    }
    void msg(const JointState& m) {
        header(m.header);
        strings(m.name);
        doubles(m.position);
        doubles(m.velocity);
        doubles(m.effort);
    }
    void msg(const JointTrajectory& m) {
        header(m.header);
        strings(m.joint_names);
        prim(4);
        for (const auto& p : m.points) {
            doubles(p.positions);
            doubles(p.velocities);
            doubles(p.accelerations);
            doubles(p.effort);
            time();
        }
    }
};

// ---------------------------------------------------------------------------
// TopicDataType implementation shared by both messages.

static bool g_dump_hex = false;  // -hex: log each serialized payload to stderr

static void dump_hex(const char* what, const frtps::SerializedPayload_t* payload) {
    if (!g_dump_hex) return;
    std::string line;
    char buf[4];
    for (uint32_t i = 0; i < payload->length; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", payload->data[i]);
        line += buf;
    }
    std::fprintf(stderr, "%s %u bytes: %s\n", what, payload->length, line.c_str());
}

template <typename T>
class RosType : public fdds::TopicDataType {
public:
    explicit RosType(const char* dds_type_name) {
        setName(dds_type_name);
        // Unbounded type: this is only the initial payload allocation size;
        // the writer asks getSerializedSizeProvider for each sample.
        m_typeSize = 64 * 1024;
        m_isGetKeyDefined = false;
        // Like rmw_fastrtps with Fast DDS 2.x: no XTypes TypeObject /
        // TypeInformation, so remote participants match on the type name.
        auto_fill_type_object(false);
        auto_fill_type_information(false);
    }

    bool serialize(void* data, frtps::SerializedPayload_t* payload) override {
        const T* msg = static_cast<const T*>(data);
        FastBuffer fb(reinterpret_cast<char*>(payload->data), payload->max_size);
        Cdr c(fb, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
        payload->encapsulation = c.endianness() == Cdr::BIG_ENDIANNESS ? CDR_BE : CDR_LE;
        try {
            c.serialize_encapsulation();
            put_msg(c, *msg);
        } catch (eprosima::fastcdr::exception::Exception& e) {
            std::fprintf(stderr, "serialize: %s\n", e.what());
            return false;
        }
        payload->length = static_cast<uint32_t>(c.getSerializedDataLength());
        dump_hex("serialized", payload);
        return true;
    }

    bool deserialize(frtps::SerializedPayload_t* payload, void* data) override {
        T* msg = static_cast<T*>(data);
        dump_hex("received", payload);
        // Only plain XCDR1 (CDR_BE 0x0000 / CDR_LE 0x0001), as ROS 2 uses.
        // Fast CDR 1.0 would misread XCDR2 (8-byte values aligned to 4).
        if (payload->length < 4 || payload->data[0] != 0 || payload->data[1] > 1) {
            std::fprintf(stderr, "deserialize: unsupported encapsulation %02x%02x (want 0000 or 0001)\n",
                         payload->length > 0 ? payload->data[0] : 0, payload->length > 1 ? payload->data[1] : 0);
            return false;
        }
        FastBuffer fb(reinterpret_cast<char*>(payload->data), payload->length);
        Cdr c(fb, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
        try {
            c.read_encapsulation();
            payload->encapsulation = c.endianness() == Cdr::BIG_ENDIANNESS ? CDR_BE : CDR_LE;
            Reader r{c, payload->length};
            r.msg(*msg);
        } catch (eprosima::fastcdr::exception::Exception& e) {
            std::fprintf(stderr, "deserialize: %s\n", e.what());
            return false;
        } catch (std::exception& e) {
            std::fprintf(stderr, "deserialize: %s\n", e.what());
            return false;
        }
        return true;
    }

    std::function<uint32_t()> getSerializedSizeProvider(void* data) override {
        return [data]() -> uint32_t {
            Sizer s;
            s.msg(*static_cast<const T*>(data));
            return static_cast<uint32_t>(4 + s.pos + 8);  // + encapsulation, + slack
        };
    }

    void* createData() override { return new T(); }

    void deleteData(void* data) override { delete static_cast<T*>(data); }

    bool getKey(void*, frtps::InstanceHandle_t*, bool) override { return false; }
};

static const char* const kJointStateType = "sensor_msgs::msg::dds_::JointState_";
static const char* const kJointTrajectoryType = "trajectory_msgs::msg::dds_::JointTrajectory_";
static const char* const kJointStateTopic = "rt/joint_states";
static const char* const kJointTrajectoryTopic = "rt/arm_controller/joint_trajectory";

// ---------------------------------------------------------------------------
// JSON output.

static void json_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char ch : s) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (ch < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                    out += buf;
                } else {
                    out += static_cast<char>(ch);
                }
        }
    }
    out += '"';
}

static void json_double(std::string& out, double d) {
    if (!std::isfinite(d)) {  // not representable in JSON
        out += "null";
        return;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    out += buf;
}

static void json_doubles(std::string& out, const std::vector<double>& v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        json_double(out, v[i]);
    }
    out += ']';
}

static void json_strings(std::string& out, const std::vector<std::string>& v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        json_string(out, v[i]);
    }
    out += ']';
}

static void json_header(std::string& out, const Header& h) {
    out += "\"stamp_sec\":" + std::to_string(h.stamp.sec);
    out += ",\"stamp_nanosec\":" + std::to_string(h.stamp.nanosec);
    out += ",\"frame_id\":";
    json_string(out, h.frame_id);
}

static std::string to_json(const JointState& m) {
    std::string out = "{";
    json_header(out, m.header);
    out += ",\"name\":";
    json_strings(out, m.name);
    out += ",\"position\":";
    json_doubles(out, m.position);
    out += ",\"velocity\":";
    json_doubles(out, m.velocity);
    out += ",\"effort\":";
    json_doubles(out, m.effort);
    out += '}';
    return out;
}

static std::string to_json(const JointTrajectory& m) {
    std::string out = "{";
    json_header(out, m.header);
    out += ",\"joint_names\":";
    json_strings(out, m.joint_names);
    out += ",\"points\":[";
    for (size_t i = 0; i < m.points.size(); ++i) {
        const auto& p = m.points[i];
        if (i) out += ',';
        out += "{\"positions\":";
        json_doubles(out, p.positions);
        out += ",\"velocities\":";
        json_doubles(out, p.velocities);
        out += ",\"accelerations\":";
        json_doubles(out, p.accelerations);
        out += ",\"effort\":";
        json_doubles(out, p.effort);
        out += ",\"time_from_start_sec\":" + std::to_string(p.time_from_start.sec);
        out += ",\"time_from_start_nanosec\":" + std::to_string(p.time_from_start.nanosec);
        out += '}';
    }
    out += "]}";
    return out;
}

// ---------------------------------------------------------------------------
// Sample content.

static std::vector<std::string> joint_names() {
    std::vector<std::string> v;
    for (int j = 1; j <= 7; ++j) v.push_back("joint" + std::to_string(j));
    return v;
}

static JointState make_joint_state(int i) {
    JointState m;
    m.header.stamp.sec = 1700000000 + i;
    m.header.stamp.nanosec = 500;
    m.header.frame_id = "base";
    m.name = joint_names();
    for (int j = 0; j < 7; ++j) {
        double p = 0.1 * static_cast<double>(j + 1);
        m.position.push_back(p + static_cast<double>(i));
        m.velocity.push_back(-0.5 * static_cast<double>(j + 1));
    }
    return m;
}

static JointTrajectory make_trajectory() {
    JointTrajectory m;
    m.header.stamp.sec = 12;
    m.header.stamp.nanosec = 34;
    m.header.frame_id = "world";
    m.joint_names = joint_names();
    JointTrajectoryPoint p;
    p.positions = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7};
    p.time_from_start.sec = 0;
    p.time_from_start.nanosec = 100000000;
    m.points.push_back(p);
    return m;
}

// ---------------------------------------------------------------------------
// Options.

struct Options {
    std::string mode;
    int domain = 0;
    int count = -1;  // -1: mode default
    int period_ms = 100;
    double timeout_s = 20;
    double match_timeout_s = 20;
    std::vector<std::string> initial_peers;
    bool loopback = false;
    bool verbose = false;
};

static void usage() {
    std::fprintf(stderr,
        "usage: peer MODE [options]\n"
        "modes:\n"
        "  pub-jointstate   publish sensor_msgs/JointState on rt/joint_states\n"
        "  sub-jointstate   print received JointState samples as JSON lines\n"
        "  pub-trajectory   publish trajectory_msgs/JointTrajectory on rt/arm_controller/joint_trajectory\n"
        "  sub-trajectory   print received JointTrajectory samples as JSON lines\n"
        "options:\n"
        "  -domain N           DDS domain id (default $ROS_DOMAIN_ID or 0)\n"
        "  -count K            pub: samples to send (jointstate 50, trajectory 1);\n"
        "                      sub: samples to print before exiting (1)\n"
        "  -period-ms P        pub: period between samples (100)\n"
        "  -match-timeout-s T  pub: wait this long for a matching reader (20)\n"
        "  -timeout-s T        sub: wait this long for the first/each sample (20)\n"
        "  -initial-peer IP    add a unicast discovery peer (repeatable)\n"
        "  -loopback           unicast-only discovery and data on 127.0.0.1 (no multicast);\n"
        "                      for a Cyclone DDS peer configured to use only \"lo\"\n"
        "  -v                  log discovery events to stderr\n"
        "  -hex                log every serialized/received payload (hex) to stderr\n");
}

static bool parse_int(const std::string& s, int& out) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s.c_str(), &end, 10);
    if (errno != 0 || end == s.c_str() || *end != '\0' || v < INT32_MIN || v > INT32_MAX) return false;
    out = static_cast<int>(v);
    return true;
}

static bool parse_double(const std::string& s, double& out) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (errno != 0 || end == s.c_str() || *end != '\0') return false;
    out = v;
    return true;
}

static bool parse_args(int argc, char** argv, Options& o) {
    if (argc < 2) return false;
    o.mode = argv[1];
    if (const char* env = std::getenv("ROS_DOMAIN_ID")) {
        if (*env && !parse_int(env, o.domain)) {
            std::fprintf(stderr, "bad ROS_DOMAIN_ID \"%s\"\n", env);
            return false;
        }
    }
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0) a = a.substr(1);  // accept --flag too
        std::string val;
        bool has_val = false;
        size_t eq = a.find('=');
        if (eq != std::string::npos) {
            val = a.substr(eq + 1);
            a = a.substr(0, eq);
            has_val = true;
        }
        auto need = [&](std::string& v) -> bool {
            if (has_val) { v = val; return true; }
            if (i + 1 >= argc) {
                std::fprintf(stderr, "flag %s needs a value\n", a.c_str());
                return false;
            }
            v = argv[++i];
            return true;
        };
        std::string v;
        if (a == "-domain") {
            if (!need(v) || !parse_int(v, o.domain)) return false;
        } else if (a == "-count") {
            if (!need(v) || !parse_int(v, o.count)) return false;
        } else if (a == "-period-ms") {
            if (!need(v) || !parse_int(v, o.period_ms)) return false;
        } else if (a == "-timeout-s") {
            if (!need(v) || !parse_double(v, o.timeout_s)) return false;
        } else if (a == "-match-timeout-s") {
            if (!need(v) || !parse_double(v, o.match_timeout_s)) return false;
        } else if (a == "-initial-peer") {
            if (!need(v)) return false;
            o.initial_peers.push_back(v);
        } else if (a == "-loopback") {
            o.loopback = true;
        } else if (a == "-v") {
            o.verbose = true;
        } else if (a == "-hex") {
            g_dump_hex = true;
        } else if (a == "-h" || a == "-help") {
            return false;
        } else {
            std::fprintf(stderr, "unknown flag %s\n", argv[i]);
            return false;
        }
    }
    if (o.domain < 0 || o.domain > 232) {
        std::fprintf(stderr, "domain id %d out of range 0..232\n", o.domain);
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------
// DDS entities.

class VerboseListener : public fdds::DomainParticipantListener {
public:
    void on_participant_discovery(fdds::DomainParticipant*,
                                  frtps::ParticipantDiscoveryInfo&& info) override {
        std::fprintf(stderr, "participant discovery: status=%d name=%s\n",
                     static_cast<int>(info.status), info.info.m_participantName.c_str());
    }
    void on_publication_matched(fdds::DataWriter*, const fdds::PublicationMatchedStatus& s) override {
        std::fprintf(stderr, "publication matched: current=%d change=%d\n",
                     s.current_count, s.current_count_change);
    }
    void on_subscription_matched(fdds::DataReader*, const fdds::SubscriptionMatchedStatus& s) override {
        std::fprintf(stderr, "subscription matched: current=%d change=%d\n",
                     s.current_count, s.current_count_change);
    }
};

struct Peer {
    fdds::DomainParticipant* participant = nullptr;
    std::unique_ptr<VerboseListener> listener;

    ~Peer() {
        if (participant) {
            participant->delete_contained_entities();
            fdds::DomainParticipantFactory::get_instance()->delete_participant(participant);
        }
    }
};

static bool create_participant(const Options& o, Peer& peer) {
    fdds::DomainParticipantQos pqos = fdds::PARTICIPANT_QOS_DEFAULT;
    pqos.name("policylab_fastdds_peer");
    // rmw_fastrtps puts the security enclave in the participant USER_DATA.
    const std::string enclave = "enclave=/;";
    pqos.user_data().setValue(std::vector<eprosima::fastrtps::rtps::octet>(enclave.begin(), enclave.end()));

    // UDPv4 only: no shared-memory transport, so everything goes over the
    // wire the way it does towards Cyclone DDS.
    pqos.transport().use_builtin_transports = false;
    auto udp = std::make_shared<eprosima::fastdds::rtps::UDPv4TransportDescriptor>();
    pqos.transport().user_transports.push_back(udp);

    for (const auto& ip : o.initial_peers) {
        frtps::Locator_t loc;
        loc.kind = LOCATOR_KIND_UDPv4;
        if (!eprosima::fastrtps::rtps::IPLocator::setIPv4(loc, ip)) {
            std::fprintf(stderr, "bad -initial-peer %s\n", ip.c_str());
            return false;
        }
        // Port left 0: Fast DDS fills in the well-known discovery ports of
        // the first participant indexes of this domain.
        pqos.wire_protocol().builtin.initialPeersList.push_back(loc);
    }
    if (o.loopback) {
        // Announce only 127.0.0.1 unicast locators, for discovery and for
        // user data, and no multicast locators. Without this Fast DDS
        // announces the host's non-loopback addresses, which a Cyclone DDS
        // participant restricted to "lo" ignores ("no unicast address").
        frtps::Locator_t loc;
        loc.kind = LOCATOR_KIND_UDPv4;
        eprosima::fastrtps::rtps::IPLocator::setIPv4(loc, "127.0.0.1");
        pqos.wire_protocol().builtin.metatrafficUnicastLocatorList.push_back(loc);
        pqos.wire_protocol().default_unicast_locator_list.push_back(loc);
        pqos.wire_protocol().builtin.initialPeersList.push_back(loc);
    }

    fdds::StatusMask mask = fdds::StatusMask::none();
    if (o.verbose) {
        peer.listener = std::make_unique<VerboseListener>();
        mask = fdds::StatusMask::publication_matched() << fdds::StatusMask::subscription_matched();
    }
    peer.participant = fdds::DomainParticipantFactory::get_instance()->create_participant(
        o.domain, pqos, peer.listener.get(), mask);
    if (!peer.participant) {
        std::fprintf(stderr, "create_participant(domain %d) failed\n", o.domain);
        return false;
    }
    return true;
}

// rclcpp's default QoS profile (rmw_qos_profile_default): RELIABLE, VOLATILE,
// KEEP_LAST 10.
static fdds::DataWriterQos ros_default_writer_qos() {
    fdds::DataWriterQos q = fdds::DATAWRITER_QOS_DEFAULT;
    q.reliability().kind = fdds::RELIABLE_RELIABILITY_QOS;
    q.durability().kind = fdds::VOLATILE_DURABILITY_QOS;
    q.history().kind = fdds::KEEP_LAST_HISTORY_QOS;
    q.history().depth = 10;
    q.publish_mode().kind = fdds::SYNCHRONOUS_PUBLISH_MODE;
    q.data_sharing().off();
    q.endpoint().history_memory_policy = frtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
    return q;
}

static fdds::DataReaderQos ros_default_reader_qos() {
    fdds::DataReaderQos q = fdds::DATAREADER_QOS_DEFAULT;
    q.reliability().kind = fdds::RELIABLE_RELIABILITY_QOS;
    q.durability().kind = fdds::VOLATILE_DURABILITY_QOS;
    q.history().kind = fdds::KEEP_LAST_HISTORY_QOS;
    q.history().depth = 10;
    q.data_sharing().off();
    q.endpoint().history_memory_policy = frtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
    return q;
}

static fdds::Topic* make_topic(Peer& peer, fdds::TopicDataType* type, const char* topic_name) {
    fdds::TypeSupport ts(type);
    if (ts.register_type(peer.participant) != ReturnCode_t::RETCODE_OK) {
        std::fprintf(stderr, "register_type %s failed\n", ts.get_type_name().c_str());
        return nullptr;
    }
    fdds::Topic* t = peer.participant->create_topic(topic_name, ts.get_type_name(), fdds::TOPIC_QOS_DEFAULT);
    if (!t) std::fprintf(stderr, "create_topic %s failed\n", topic_name);
    return t;
}

static bool wait_matched(fdds::DataWriter* w, double timeout_s) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    while (true) {
        fdds::PublicationMatchedStatus st;
        if (w->get_publication_matched_status(st) == ReturnCode_t::RETCODE_OK && st.current_count > 0) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

template <typename T>
static int run_pub(const Options& o, fdds::TopicDataType* type, const char* topic_name, int default_count,
                   const std::function<T(int)>& make) {
    Peer peer;
    if (!create_participant(o, peer)) return 1;
    fdds::Topic* topic = make_topic(peer, type, topic_name);
    if (!topic) return 1;
    fdds::Publisher* pub = peer.participant->create_publisher(fdds::PUBLISHER_QOS_DEFAULT);
    if (!pub) return 1;
    fdds::DataWriter* w = pub->create_datawriter(topic, ros_default_writer_qos());
    if (!w) {
        std::fprintf(stderr, "create_datawriter failed\n");
        return 1;
    }
    std::fprintf(stderr, "peer: domain %d, topic %s (%s), waiting for a reader\n", o.domain, topic_name,
                 type->getName());
    if (!wait_matched(w, o.match_timeout_s)) {
        std::fprintf(stderr, "peer: no matching reader for %s on domain %d within %g s\n", topic_name,
                     o.domain, o.match_timeout_s);
        return 2;
    }
    int count = o.count >= 0 ? o.count : default_count;
    for (int i = 0; i < count; ++i) {
        if (i > 0 && o.period_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.period_ms));
        T msg = make(i);
        if (!w->write(&msg)) {
            std::fprintf(stderr, "peer: write %d failed\n", i);
            return 1;
        }
        std::printf("sent %d stamp=%d.%09u\n", i, msg.header.stamp.sec, msg.header.stamp.nanosec);
        std::fflush(stdout);
    }
    // Give reliable delivery a chance to complete before tearing down.
    if (w->wait_for_acknowledgments(eprosima::fastrtps::Duration_t(10, 0)) != ReturnCode_t::RETCODE_OK) {
        std::fprintf(stderr, "peer: not all samples acknowledged within 10 s\n");
    }
    return 0;
}

template <typename T>
static int run_sub(const Options& o, fdds::TopicDataType* type, const char* topic_name) {
    Peer peer;
    if (!create_participant(o, peer)) return 1;
    fdds::Topic* topic = make_topic(peer, type, topic_name);
    if (!topic) return 1;
    fdds::Subscriber* sub = peer.participant->create_subscriber(fdds::SUBSCRIBER_QOS_DEFAULT);
    if (!sub) return 1;
    fdds::DataReader* r = sub->create_datareader(topic, ros_default_reader_qos());
    if (!r) {
        std::fprintf(stderr, "create_datareader failed\n");
        return 1;
    }
    std::fprintf(stderr, "peer: domain %d, topic %s (%s), waiting for data\n", o.domain, topic_name,
                 type->getName());
    int want = o.count >= 0 ? o.count : 1;
    int got = 0;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
    while (got < want) {
        T msg;
        fdds::SampleInfo info;
        if (r->take_next_sample(&msg, &info) == ReturnCode_t::RETCODE_OK) {
            if (!info.valid_data) continue;
            std::printf("%s\n", to_json(msg).c_str());
            std::fflush(stdout);
            ++got;
            continue;
        }
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            std::fprintf(stderr, "peer: timed out after %g s with %d/%d samples on %s, domain %d\n",
                         o.timeout_s, got, want, topic_name, o.domain);
            return 2;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        if (left > 200) left = 200;
        r->wait_for_unread_message(eprosima::fastrtps::Duration_t(0, static_cast<uint32_t>(left) * 1000000u));
    }
    return 0;
}

int main(int argc, char** argv) {
    Options o;
    if (!parse_args(argc, argv, o)) {
        usage();
        return 1;
    }
    // TypeSupport takes ownership of the TopicDataType.
    if (o.mode == "pub-jointstate") {
        return run_pub<JointState>(o, new RosType<JointState>(kJointStateType), kJointStateTopic, 50,
                                   make_joint_state);
    }
    if (o.mode == "sub-jointstate") {
        return run_sub<JointState>(o, new RosType<JointState>(kJointStateType), kJointStateTopic);
    }
    if (o.mode == "pub-trajectory") {
        return run_pub<JointTrajectory>(o, new RosType<JointTrajectory>(kJointTrajectoryType),
                                        kJointTrajectoryTopic, 1, [](int) { return make_trajectory(); });
    }
    if (o.mode == "sub-trajectory") {
        return run_sub<JointTrajectory>(o, new RosType<JointTrajectory>(kJointTrajectoryType),
                                        kJointTrajectoryTopic);
    }
    std::fprintf(stderr, "unknown mode %s\n", o.mode.c_str());
    usage();
    return 1;
}
