package io.quarkiverse.modelsharing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.lang.foreign.FunctionDescriptor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** The one list of foreign calls that native images register: complete, and each one links on this platform. */
class ForeignCallsTest {

    @Test
    void everyDefinedCallIsListedForRegistration() throws IllegalAccessException {
        Set<Object> defined = new HashSet<>();
        for (Field field : ForeignCalls.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers())) {
                defined.add(field.get(null));
            }
        }
        Set<Object> listed = new HashSet<>(ForeignCalls.downcalls());
        listed.addAll(ForeignCalls.upcalls());
        assertEquals(defined, listed, "a call defined in ForeignCalls but left out of downcalls()/upcalls() would be"
                + " missing from native images");
    }

    @Test
    void everyDowncallLinks() {
        for (ForeignCalls.Downcall call : ForeignCalls.downcalls()) {
            assertNotNull(call.link(), call.symbol());
        }
        for (FunctionDescriptor upcall : ForeignCalls.upcalls()) {
            assertNotNull(upcall);
        }
    }

    @Test
    void aMissingSymbolSaysWhich() {
        IllegalStateException missing = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> new ForeignCalls.Downcall("no_such_function_here", FunctionDescriptor.ofVoid()).link());
        assertEquals("The C library has no no_such_function_here()", missing.getMessage());
    }
}
