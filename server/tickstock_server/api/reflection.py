"""Server reflection under both `grpc.reflection.v1alpha` (grpcurl 1.8.6) and `grpc.reflection.v1`.

grpcio-reflection 1.85 implements only v1alpha. The v1 protocol is the same file with another package
name, so v1 is served by the same servicer, and a renamed copy of the v1alpha file descriptor is added to
the descriptor pool so that v1 clients can also describe the reflection service itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

# `reflection.aio` re-exports this module; importing it directly lets mypy (grpc-stubs lacks it) see it.
from grpc_reflection.v1alpha._async import ReflectionServicer

V1_SERVICE = "grpc.reflection.v1.ServerReflection"
REFLECTION_SERVICES = (reflection.SERVICE_NAME, V1_SERVICE)
"""The reflection services `enable_reflection` adds."""
_ALPHA_PACKAGE = ".grpc.reflection.v1alpha."
_V1_PACKAGE = ".grpc.reflection.v1."


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindServiceByName(V1_SERVICE)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name = "grpc/reflection/v1/reflection.proto"
    file.package = "grpc.reflection.v1"
    for message in file.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(_ALPHA_PACKAGE, _V1_PACKAGE)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(_ALPHA_PACKAGE, _V1_PACKAGE)
            method.output_type = method.output_type.replace(_ALPHA_PACKAGE, _V1_PACKAGE)
    pool.Add(file)


def enable_reflection(server: grpc.aio.Server, service_names: Sequence[str]) -> None:
    """Serve reflection v1alpha and v1 for `service_names` (the reflection services are added)."""
    _add_v1_descriptor(descriptor_pool.Default())
    names = (*service_names, *REFLECTION_SERVICES)
    servicer = ReflectionServicer(names)
    reflection.enable_server_reflection(names, server)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": handler}),)
    )
