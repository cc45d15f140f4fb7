// metadata.managedFields kept as text in the objects the API server caches (issue 22, memory
// per object). A density pod's two managedFields entries are ~150 small JSON nodes: 4.7 KB of
// its 12.8 KB packed object, but ~1.6 KB as text. Nothing in the server reads them except the
// field manager on writes, so the watch cache keeps them as a JSON string holding the array's
// text ("packed"), and every path that hands an object out writes that text back as the array.
//
// A packed list is never valid input: a client's managedFields must be an array (the type
// check refuses a string), so a string there always means "packed by this server".
//
// Who must know:
// - the cache (ObjectHint, CacheHub::decode) packs;
// - encoders write objects with objectJson()/appendObjectJson() instead of
//   boost::json::serialize (responses, watch events, lists, tables, the store's text, bodies
//   that in-process clients send back), or unpack a copy first (protobuf);
// - the field manager reads a packed list through managedFieldsList();
// - whole-object comparisons that must not see the representation use sameObject().
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace skiff::api {

// Replaces an array metadata.managedFields with its text (no-op for anything else).
void packManagedFields(boost::json::object& obj);
// The packed text of obj's metadata.managedFields, or null when it is not packed.
const boost::json::string* packedManagedFields(const boost::json::object& obj);
// Whether obj, or an object inside it that encoders write (a list's items, a Table's
// rows[].object), has packed managedFields.
bool hasPackedManagedFields(const boost::json::object& obj);
// Turns packed managedFields back into arrays, in obj and in the objects inside it that
// hasPackedManagedFields() looks at.
void unpackManagedFields(boost::json::object& obj);
// The managedFields list of `metadata` as an array value: the member itself, or (packed) its
// text parsed into `scratch`. Null when absent; a non-array, non-packed member as it is.
const boost::json::value* managedFieldsList(const boost::json::object& metadata,
                                            boost::json::value& scratch);

// The JSON text of obj, packed managedFields written as the arrays they stand for: the same
// bytes boost::json::serialize gives for the unpacked object.
std::string objectJson(const boost::json::object& obj);
void appendObjectJson(std::string& out, const boost::json::object& obj);
// The same for an object's metadata alone (a Table row's PartialObjectMetadata).
void appendMetadataJson(std::string& out, const boost::json::object& metadata);

// a == b, where packed and unpacked managedFields of the same entries are equal.
bool sameObject(const boost::json::object& a, const boost::json::object& b);
// The same for one member (field) of two objects; both absent is equal.
bool sameMember(const boost::json::object& a, const boost::json::object& b, std::string_view field);

}  // namespace skiff::api
