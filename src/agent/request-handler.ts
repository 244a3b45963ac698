import { of, type Observable } from 'rxjs';
import type { AgentConfig } from '../config/index.js';
import { ProtocolError, type Frame, type Request } from '../protocol/index.js';

/**
 * Turns one `request` frame into the frames that answer it. The request pipeline (adapters,
 * deadlines, credit) plugs in here; this default only answers what config alone can decide.
 */
export type RequestHandler = (request: Request) => Observable<Frame>;

export function configOnlyHandler(config: AgentConfig): RequestHandler {
  return (request) => {
    const ds = config.dataSources[request.dataSource];
    const error = !ds
      ? new ProtocolError('UNKNOWN_DATA_SOURCE', `no data source named ${JSON.stringify(request.dataSource)} on this agent`, {
          requestId: request.id,
        })
      : !(ds.operations as readonly string[]).includes(request.op)
        ? new ProtocolError('OPERATION_NOT_ALLOWED', `data source ${request.dataSource} does not allow ${request.op}`, {
            requestId: request.id,
            dataSource: request.dataSource,
          })
        : new ProtocolError('INTERNAL', `no adapter for data-source type ${ds.type} in this build`, {
            requestId: request.id,
            dataSource: request.dataSource,
          });
    return of(error.toFrame());
  };
}
