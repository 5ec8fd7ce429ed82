// faye's Client as it is at run time: jsforce's typings (node_modules/jsforce/typings/faye) leave out
// disconnect, which ends the long-poll loop.
import "faye";

declare module "faye" {
  interface Client {
    disconnect(): void;
  }
}
