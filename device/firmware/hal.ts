// The board's HAL (device/HAL.md). These are the only imports the firmware may use.
@external("hal", "uart_write") export declare function uart_write(ptr: usize, len: u32): void;
@external("hal", "uart_read") export declare function uart_read(ptr: usize, cap: u32): u32;
@external("hal", "millis") export declare function millis(): u32;
@external("hal", "storage_size") export declare function storage_size(): u32;
@external("hal", "storage_read") export declare function storage_read(offset: u32, ptr: usize, len: u32): u32;
@external("hal", "storage_write") export declare function storage_write(offset: u32, ptr: usize, len: u32): u32;
