/** Sends one sd_notify datagram to `socketPath` ('/path' or '@abstract'); returns bytes sent, throws Error with errno `code`. */
export declare function send(socketPath: string, message: string): number;
