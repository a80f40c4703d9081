import NIOCore
import NIOTLS

/// After the TLS handler until the handshake is done: counts a failed handshake (bad protocol
/// version, no shared cipher, a client that refused the certificate) in the metrics, then
/// leaves the pipeline once a handshake succeeds.
final class HandshakeFailureCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let metrics: EdgeMetrics
    private var counted = false

    init(metrics: EdgeMetrics) {
        self.metrics = metrics
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !counted {
            counted = true
            metrics.tlsHandshake(succeeded: false)
        }
        context.fireErrorCaught(error)
    }
}
